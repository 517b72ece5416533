"""Customer-facing wording in French and Spanish, keyed like the English in `wording`.

Keys: `status.<milestone>`, `problem.<reason>`, `problem.m.<milestone>`,
`next.<milestone>.<reason>`, `next.default`, `return.<state>`, `refund.<state>`, and the
tracking page's own `page.*` strings. A key missing here falls back to English, so a new
English text never shows as a blank; `{carrier}` and other placeholders are kept.
"""

from __future__ import annotations

PAGE_EN: dict[str, str] = {
    "page.title": "Track your order",
    "page.skip": "Skip to the content",
    "page.intro": (
        "Enter your order number and the email address, phone number or postal code "
        "you used when ordering."
    ),
    "page.order_number": "Order number",
    "page.contact_hint": "Fill in one of these three:",
    "page.email": "Email address",
    "page.phone": "Phone number",
    "page.postal_code": "Postal code",
    "page.find": "Find my order",
    "page.not_found": (
        "We could not find an order with these details. Check the order number and the "
        "contact details, then try again."
    ),
    "page.need_contact": "Give your email address, phone number or postal code.",
    "page.too_many": "Too many attempts. Please wait a minute and try again.",
    "page.link_invalid": "This link is not valid. You can look up your order with its number.",
    "page.link_expired": "This link has expired. You can look up your order with its number.",
    "page.parcel_unknown": "We have no parcel with this tracking number.",
    "page.order": "Order {number}",
    "page.placed": "Placed on {date}",
    "page.cancelled": "This order was cancelled.",
    "page.package": "Package {n} of {total}",
    "page.carrier": "Carrier",
    "page.tracking_number": "Tracking number",
    "page.contents": "Contents",
    "page.last_update": "Latest update",
    "page.expected": "Expected delivery",
    "page.likely": "{window}, {percent} likely",
    "page.delivered_on": "Delivered on {date}",
    "page.source.carrier": "estimate from {carrier}",
    "page.source.wismo": "our estimate from recent deliveries",
    "page.source.merchant_promise": "the date promised at checkout",
    "page.late": "Later than promised",
    "page.predicted_late": "Likely to arrive later than promised",
    "page.next": "What happens next",
    "page.not_shipped": "Not shipped yet",
    "page.history": "Tracking history",
    "page.no_history": "No scans yet.",
    "page.returns": "Returns",
    "page.refunds": "Refunds",
    "page.expected_by": "expected by {date}",
    "page.estimated": "(estimate)",
    "page.notifications": "Updates about this order",
    "page.notifications_intro": "Choose how we tell you when something changes.",
    "page.channel.email": "Email",
    "page.channel.sms": "Text message (SMS)",
    "page.save": "Save my choice",
    "page.saved": "Your choice is saved.",
    "page.help": "Need help?",
    "page.support": "Contact support",
    "page.language": "Language",
    "page.parcel": "Parcel {tracking_number}",
    "page.track_another": "Track another order",
    "page.status": "Status",
}

FR: dict[str, str] = {
    "page.title": "Suivre votre commande",
    "page.skip": "Aller au contenu",
    "page.intro": (
        "Saisissez votre numéro de commande et l'adresse e-mail, le numéro de téléphone ou "
        "le code postal utilisés lors de la commande."
    ),
    "page.order_number": "Numéro de commande",
    "page.contact_hint": "Remplissez l'un de ces trois champs :",
    "page.email": "Adresse e-mail",
    "page.phone": "Numéro de téléphone",
    "page.postal_code": "Code postal",
    "page.find": "Trouver ma commande",
    "page.not_found": (
        "Nous n'avons trouvé aucune commande avec ces informations. Vérifiez le numéro de "
        "commande et vos coordonnées, puis réessayez."
    ),
    "page.need_contact": "Indiquez votre e-mail, votre téléphone ou votre code postal.",
    "page.too_many": "Trop de tentatives. Patientez une minute puis réessayez.",
    "page.link_invalid": (
        "Ce lien n'est pas valide. Vous pouvez retrouver votre commande avec son numéro."
    ),
    "page.link_expired": (
        "Ce lien a expiré. Vous pouvez retrouver votre commande avec son numéro."
    ),
    "page.parcel_unknown": "Aucun colis ne correspond à ce numéro de suivi.",
    "page.order": "Commande {number}",
    "page.placed": "Passée le {date}",
    "page.cancelled": "Cette commande a été annulée.",
    "page.package": "Colis {n} sur {total}",
    "page.carrier": "Transporteur",
    "page.tracking_number": "Numéro de suivi",
    "page.contents": "Contenu",
    "page.last_update": "Dernière mise à jour",
    "page.expected": "Livraison prévue",
    "page.likely": "{window}, probable à {percent}",
    "page.delivered_on": "Livré le {date}",
    "page.source.carrier": "estimation de {carrier}",
    "page.source.wismo": "notre estimation d'après les livraisons récentes",
    "page.source.merchant_promise": "la date promise à la commande",
    "page.late": "En retard sur la date promise",
    "page.predicted_late": "Risque d'arriver après la date promise",
    "page.next": "Et ensuite",
    "page.not_shipped": "Pas encore expédié",
    "page.history": "Historique de suivi",
    "page.no_history": "Aucun scan pour l'instant.",
    "page.returns": "Retours",
    "page.refunds": "Remboursements",
    "page.expected_by": "prévu d'ici le {date}",
    "page.estimated": "(estimation)",
    "page.notifications": "Nouvelles de cette commande",
    "page.notifications_intro": "Choisissez comment nous vous prévenons d'un changement.",
    "page.channel.email": "E-mail",
    "page.channel.sms": "SMS",
    "page.save": "Enregistrer mon choix",
    "page.saved": "Votre choix est enregistré.",
    "page.help": "Besoin d'aide ?",
    "page.support": "Contacter le service client",
    "page.language": "Langue",
    "page.parcel": "Colis {tracking_number}",
    "page.track_another": "Suivre une autre commande",
    "page.status": "Statut",
    "status.order_placed": "Commande reçue",
    "status.confirmed": "Commande confirmée",
    "status.awaiting_fulfilment": "En préparation pour l'expédition",
    "status.label_created": "Emballé, en attente d'enlèvement par le transporteur",
    "status.picked_up": "Pris en charge par le transporteur",
    "status.in_transit": "En route",
    "status.out_for_delivery": "En cours de livraison",
    "status.available_for_pickup": "Prêt à être retiré",
    "status.delivery_attempt_failed": "Tentative de livraison sans succès",
    "status.exception": "Retardé par un incident de transport",
    "status.delivered": "Livré",
    "status.returning_to_sender": "En cours de retour chez nous",
    "status.returned_to_sender": "Revenu chez nous",
    "status.cancelled": "Annulé",
    "status.unknown": "En attente de la première mise à jour",
    "status.expired": "Pas de mise à jour récente",
    "problem.customs_hold": "Le colis est retenu en douane.",
    "problem.weather": "Le mauvais temps a retardé le colis.",
    "problem.address_problem": "Le transporteur n'a pas pu livrer à l'adresse indiquée.",
    "problem.recipient_unavailable": "Personne n'était disponible pour recevoir le colis.",
    "problem.damaged": "Le transporteur a signalé le colis comme endommagé.",
    "problem.lost": "Le transporteur ne parvient pas à localiser le colis.",
    "problem.refused": "La livraison du colis a été refusée.",
    "problem.held_for_payment": "Le colis est retenu jusqu'au paiement des droits ou frais.",
    "problem.carrier_delay": "Le transporteur a retardé le colis.",
    "problem.missorted": "Le colis est parti au mauvais dépôt et est en cours de réacheminement.",
    "problem.access_problem": "Le transporteur n'a pas pu accéder au lieu de livraison.",
    "problem.held_at_carrier_request": "Le transporteur garde le colis.",
    "problem.label_not_scanned": "Le transporteur n'a pas encore scanné le colis.",
    "problem.peak_volume": "L'affluence chez le transporteur a retardé le colis.",
    "problem.other": "Le transporteur a signalé un problème avec le colis.",
    "problem.m.delivery_attempt_failed": "Le transporteur a tenté de livrer, sans succès.",
    "problem.m.exception": "Le transporteur a signalé un problème avec le colis.",
    "problem.m.returning_to_sender": "Le colis est en route pour revenir chez nous.",
    "problem.m.returned_to_sender": "Le colis est revenu chez nous.",
    "problem.m.expired": "Le transporteur ne donne plus de nouvelles de ce colis.",
    "next.delivery_attempt_failed.none": ("{carrier} réessaie en général le jour ouvré suivant."),
    "next.delivery_attempt_failed.recipient_unavailable": (
        "{carrier} réessaiera le jour ouvré suivant ou le déposera en point relais."
    ),
    "next.delivery_attempt_failed.address_problem": (
        "Vérifiez l'adresse de livraison avec nous pour que {carrier} puisse réessayer."
    ),
    "next.exception.customs_hold": (
        "Les contrôles douaniers prennent en général 1 à 3 jours ouvrés ; le transporteur "
        "reprend ensuite l'acheminement."
    ),
    "next.exception.held_for_payment": (
        "{carrier} vous contactera au sujet des frais ; le colis est livré une fois réglés."
    ),
    "next.exception.damaged": "Notre service client vous contactera pour un remplacement.",
    "next.exception.lost": "Notre service client organisera un remplacement ou un remboursement.",
    "next.exception.address_problem": (
        "Vérifiez l'adresse de livraison avec nous pour que {carrier} puisse livrer."
    ),
    "next.exception.none": "{carrier} s'en occupe ; nous vous tiendrons informé.",
    "next.returning_to_sender.none": (
        "Dès son retour, nous le rembourserons ou le renverrons ; nous vous préviendrons."
    ),
    "next.returned_to_sender.none": (
        "Nous allons le rembourser ou le renvoyer ; notre service client vous contactera."
    ),
    "next.expired.none": "Notre service client va se renseigner auprès du transporteur.",
    "next.available_for_pickup.none": (
        "Retirez-le avec une pièce d'identité avant que le point relais ne le renvoie."
    ),
    "next.default": "{carrier} prévoit de le faire avancer rapidement ; nous vous informerons.",
    "return.requested": "Retour demandé, en attente d'accord",
    "return.approved": "Retour accepté ; renvoyez les articles avec l'étiquette",
    "return.declined": "Retour refusé",
    "return.in_transit": "Retour en route vers nous",
    "return.received": "Retour reçu, en cours de vérification",
    "return.inspected": "Retour vérifié ; remboursement en cours",
    "return.closed": "Retour terminé",
    "return.cancelled": "Retour annulé",
    "refund.pending": "Remboursement en cours",
    "refund.processed": "Remboursement effectué",
    "refund.failed": "Échec du remboursement ; notre service client vous contactera",
    "refund.cancelled": "Remboursement annulé",
}

ES: dict[str, str] = {
    "page.title": "Sigue tu pedido",
    "page.skip": "Ir al contenido",
    "page.intro": (
        "Introduce tu número de pedido y el correo electrónico, el teléfono o el código "
        "postal que usaste al comprar."
    ),
    "page.order_number": "Número de pedido",
    "page.contact_hint": "Rellena uno de estos tres campos:",
    "page.email": "Correo electrónico",
    "page.phone": "Número de teléfono",
    "page.postal_code": "Código postal",
    "page.find": "Buscar mi pedido",
    "page.not_found": (
        "No hemos encontrado ningún pedido con estos datos. Comprueba el número de pedido "
        "y tus datos de contacto y vuelve a intentarlo."
    ),
    "page.need_contact": "Indica tu correo, tu teléfono o tu código postal.",
    "page.too_many": "Demasiados intentos. Espera un minuto y vuelve a intentarlo.",
    "page.link_invalid": "Este enlace no es válido. Puedes buscar tu pedido con su número.",
    "page.link_expired": "Este enlace ha caducado. Puedes buscar tu pedido con su número.",
    "page.parcel_unknown": "No tenemos ningún paquete con este número de seguimiento.",
    "page.order": "Pedido {number}",
    "page.placed": "Realizado el {date}",
    "page.cancelled": "Este pedido se canceló.",
    "page.package": "Paquete {n} de {total}",
    "page.carrier": "Transportista",
    "page.tracking_number": "Número de seguimiento",
    "page.contents": "Contenido",
    "page.last_update": "Última actualización",
    "page.expected": "Entrega prevista",
    "page.likely": "{window}, probabilidad del {percent}",
    "page.delivered_on": "Entregado el {date}",
    "page.source.carrier": "estimación de {carrier}",
    "page.source.wismo": "nuestra estimación según entregas recientes",
    "page.source.merchant_promise": "la fecha prometida al comprar",
    "page.late": "Más tarde de lo prometido",
    "page.predicted_late": "Probablemente llegará después de lo prometido",
    "page.next": "Qué pasa ahora",
    "page.not_shipped": "Aún no enviado",
    "page.history": "Historial de seguimiento",
    "page.no_history": "Todavía no hay escaneos.",
    "page.returns": "Devoluciones",
    "page.refunds": "Reembolsos",
    "page.expected_by": "previsto para el {date}",
    "page.estimated": "(estimación)",
    "page.notifications": "Avisos sobre este pedido",
    "page.notifications_intro": "Elige cómo te avisamos cuando algo cambie.",
    "page.channel.email": "Correo electrónico",
    "page.channel.sms": "Mensaje de texto (SMS)",
    "page.save": "Guardar mi elección",
    "page.saved": "Tu elección se ha guardado.",
    "page.help": "¿Necesitas ayuda?",
    "page.support": "Contactar con atención al cliente",
    "page.language": "Idioma",
    "page.parcel": "Paquete {tracking_number}",
    "page.track_another": "Seguir otro pedido",
    "page.status": "Estado",
    "status.order_placed": "Pedido recibido",
    "status.confirmed": "Pedido confirmado",
    "status.awaiting_fulfilment": "Preparándose para el envío",
    "status.label_created": "Empaquetado, esperando a que lo recoja el transportista",
    "status.picked_up": "Recogido por el transportista",
    "status.in_transit": "En camino",
    "status.out_for_delivery": "En reparto",
    "status.available_for_pickup": "Listo para recoger",
    "status.delivery_attempt_failed": "Intento de entrega sin éxito",
    "status.exception": "Retrasado por un problema en el transporte",
    "status.delivered": "Entregado",
    "status.returning_to_sender": "Volviendo a nosotros",
    "status.returned_to_sender": "Devuelto a nosotros",
    "status.cancelled": "Cancelado",
    "status.unknown": "Esperando la primera actualización",
    "status.expired": "Sin actualizaciones recientes",
    "problem.customs_hold": "El paquete está retenido en aduanas.",
    "problem.weather": "El mal tiempo ha retrasado el paquete.",
    "problem.address_problem": "El transportista no pudo entregar en la dirección indicada.",
    "problem.recipient_unavailable": "No había nadie para recibir el paquete.",
    "problem.damaged": "El transportista informó de que el paquete está dañado.",
    "problem.lost": "El transportista no encuentra el paquete.",
    "problem.refused": "Se rechazó la entrega del paquete.",
    "problem.held_for_payment": "El paquete está retenido hasta que se paguen los aranceles.",
    "problem.carrier_delay": "El transportista ha retrasado el paquete.",
    "problem.missorted": "El paquete fue a un centro equivocado y se está redirigiendo.",
    "problem.access_problem": "El transportista no pudo acceder para entregar el paquete.",
    "problem.held_at_carrier_request": "El transportista retiene el paquete.",
    "problem.label_not_scanned": "El transportista aún no ha escaneado el paquete.",
    "problem.peak_volume": "El alto volumen del transportista ha retrasado el paquete.",
    "problem.other": "El transportista informó de un problema con el paquete.",
    "problem.m.delivery_attempt_failed": "El transportista intentó entregarlo, sin éxito.",
    "problem.m.exception": "El transportista informó de un problema con el paquete.",
    "problem.m.returning_to_sender": "El paquete está volviendo a nosotros.",
    "problem.m.returned_to_sender": "El paquete ha vuelto a nosotros.",
    "problem.m.expired": "El transportista ha dejado de informar sobre este paquete.",
    "next.delivery_attempt_failed.none": (
        "{carrier} suele volver a intentarlo el siguiente día laborable."
    ),
    "next.delivery_attempt_failed.recipient_unavailable": (
        "{carrier} lo intentará el siguiente día laborable o lo dejará en un punto de recogida."
    ),
    "next.delivery_attempt_failed.address_problem": (
        "Comprueba la dirección de entrega con nosotros para que {carrier} lo intente de nuevo."
    ),
    "next.exception.customs_hold": (
        "Los controles de aduanas suelen tardar de 1 a 3 días laborables; después el "
        "transportista continúa el envío."
    ),
    "next.exception.held_for_payment": (
        "{carrier} te contactará por los cargos; se entrega en cuanto estén pagados."
    ),
    "next.exception.damaged": "Nuestro equipo de atención te contactará para reponerlo.",
    "next.exception.lost": "Nuestro equipo de atención organizará una reposición o un reembolso.",
    "next.exception.address_problem": (
        "Comprueba la dirección de entrega con nosotros para que {carrier} pueda entregarlo."
    ),
    "next.exception.none": "{carrier} está en ello; te mantendremos informado.",
    "next.returning_to_sender.none": (
        "Cuando vuelva, te lo reembolsaremos o lo enviaremos de nuevo; te avisaremos."
    ),
    "next.returned_to_sender.none": (
        "Te lo reembolsaremos o lo enviaremos de nuevo; nuestro equipo te contactará."
    ),
    "next.expired.none": "Nuestro equipo de atención lo revisará con el transportista.",
    "next.available_for_pickup.none": (
        "Recógelo con tu documento de identidad antes de que el punto de recogida lo devuelva."
    ),
    "next.default": "{carrier} espera moverlo en breve; te mantendremos informado.",
    "return.requested": "Devolución solicitada, pendiente de aprobación",
    "return.approved": "Devolución aprobada; envía los artículos con la etiqueta",
    "return.declined": "Devolución rechazada",
    "return.in_transit": "Devolución en camino hacia nosotros",
    "return.received": "Devolución recibida, en revisión",
    "return.inspected": "Devolución revisada; reembolso en camino",
    "return.closed": "Devolución completada",
    "return.cancelled": "Devolución cancelada",
    "refund.pending": "Reembolso en proceso",
    "refund.processed": "Reembolso emitido",
    "refund.failed": "El reembolso falló; nuestro equipo de atención te contactará",
    "refund.cancelled": "Reembolso cancelado",
}
