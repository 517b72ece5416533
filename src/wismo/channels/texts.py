"""Message wording per trigger and language. `{order}`, `{store}`, `{date}`, `{amount}`,
`{count}` are filled in by `render`; values are inserted, never used as format strings.

`SPLIT` says what is in which package when an order comes in several; `HELP` answers an
SMS HELP when the store has no text of its own."""

from __future__ import annotations

from collections.abc import Mapping

# trigger -> (subject, one-paragraph body)
TEXTS: Mapping[str, Mapping[str, tuple[str, str]]] = {
    "en": {
        "order_confirmed": ("Order {order} confirmed", "Thanks! {store} has your order {order}."),
        "shipped": ("Order {order} has shipped", "Your order {order} is on its way."),
        "out_for_delivery": ("Out for delivery today", "Your order {order} is out for delivery."),
        "available_for_pickup": (
            "Ready for pickup",
            "Your order {order} is waiting for you at the pickup point.",
        ),
        "delivered": ("Order {order} delivered", "Your order {order} was delivered {date}."),
        "failed_attempt": (
            "We missed you",
            "The carrier tried to deliver your order {order} and will try again.",
        ),
        "delayed": ("Order {order} is delayed", "Your order {order} is now expected {date}."),
        "stuck": (
            "We are looking into order {order}",
            "Your parcel has not moved for a while; we are checking with the carrier.",
        ),
        "customs_hold": ("Order {order} is in customs", "Your order {order} is held in customs."),
        "returning_to_sender": (
            "Order {order} is going back",
            "The carrier is returning your order {order} to {store}.",
        ),
        "split_summary": (
            "All packages delivered",
            "All {count} packages of order {order} have arrived.",
        ),
        "return_received": ("Return received", "{store} received your return for order {order}."),
        "refund_issued": ("Refund issued", "{store} refunded {amount} for order {order}."),
    },
    "fr": {
        "order_confirmed": (
            "Commande {order} confirmée",
            "Merci ! {store} a bien reçu la commande {order}.",
        ),
        "shipped": ("Commande {order} expédiée", "Votre commande {order} est en route."),
        "out_for_delivery": (
            "En cours de livraison",
            "Votre commande {order} est en cours de livraison.",
        ),
        "available_for_pickup": (
            "Prête à être retirée",
            "Votre commande {order} vous attend au point de retrait.",
        ),
        "delivered": ("Commande {order} livrée", "Votre commande {order} a été livrée le {date}."),
        "failed_attempt": (
            "Vous étiez absent",
            "Le transporteur n'a pas pu livrer la commande {order} et repassera.",
        ),
        "delayed": (
            "Commande {order} retardée",
            "Votre commande {order} est désormais attendue le {date}.",
        ),
        "stuck": (
            "Nous suivons la commande {order}",
            "Votre colis n'a pas bougé depuis un moment ; nous vérifions auprès du transporteur.",
        ),
        "customs_hold": (
            "Commande {order} en douane",
            "Votre commande {order} est retenue en douane.",
        ),
        "returning_to_sender": (
            "Commande {order} retournée",
            "Le transporteur renvoie la commande {order} à {store}.",
        ),
        "split_summary": (
            "Tous les colis livrés",
            "Les {count} colis de la commande {order} sont tous arrivés.",
        ),
        "return_received": ("Retour reçu", "{store} a reçu votre retour pour la commande {order}."),
        "refund_issued": (
            "Remboursement effectué",
            "{store} a remboursé {amount} pour la commande {order}.",
        ),
    },
    "es": {
        "order_confirmed": (
            "Pedido {order} confirmado",
            "¡Gracias! {store} ha recibido tu pedido {order}.",
        ),
        "shipped": ("Pedido {order} enviado", "Tu pedido {order} está en camino."),
        "out_for_delivery": ("En reparto hoy", "Tu pedido {order} está en reparto."),
        "available_for_pickup": (
            "Listo para recoger",
            "Tu pedido {order} te espera en el punto de recogida.",
        ),
        "delivered": ("Pedido {order} entregado", "Tu pedido {order} se entregó el {date}."),
        "failed_attempt": (
            "No te encontramos",
            "El transportista intentó entregar tu pedido {order} y lo intentará de nuevo.",
        ),
        "delayed": ("Pedido {order} retrasado", "Ahora esperamos tu pedido {order} el {date}."),
        "stuck": (
            "Estamos revisando el pedido {order}",
            "Tu paquete no se ha movido en un tiempo; lo estamos consultando con el transportista.",
        ),
        "customs_hold": (
            "Pedido {order} en aduanas",
            "Tu pedido {order} está retenido en aduanas.",
        ),
        "returning_to_sender": (
            "Pedido {order} devuelto",
            "El transportista devuelve tu pedido {order} a {store}.",
        ),
        "split_summary": (
            "Todos los paquetes entregados",
            "Llegaron los {count} paquetes del pedido {order}.",
        ),
        "return_received": (
            "Devolución recibida",
            "{store} recibió tu devolución del pedido {order}.",
        ),
        "refund_issued": ("Reembolso realizado", "{store} reembolsó {amount} del pedido {order}."),
    },
}

CHROME: Mapping[str, Mapping[str, str]] = {
    "en": {
        "track": "Track your order",
        "unsubscribe": "Unsubscribe",
        "stop": "Reply STOP to opt out.",
    },
    "fr": {
        "track": "Suivre ma commande",
        "unsubscribe": "Se désabonner",
        "stop": "STOP pour ne plus recevoir.",
    },
    "es": {
        "track": "Seguir mi pedido",
        "unsubscribe": "Darse de baja",
        "stop": "Responde STOP para no recibir más.",
    },
}

# Split shipments: `{index}`, `{count}`, `{delivered}` are numbers, `{items}` a list.
SPLIT: Mapping[str, Mapping[str, str]] = {
    "en": {
        "package_of": "Package {index} of {count}: {items}.",
        "package": "In this package: {items}.",
        "to_ship": "Still to ship: {items}.",
        "delivered_part": "{delivered} of {count} packages delivered; the rest is on its way.",
        "more": "{n} more",
    },
    "fr": {
        "package_of": "Colis {index} sur {count} : {items}.",
        "package": "Dans ce colis : {items}.",
        "to_ship": "Reste à expédier : {items}.",
        "delivered_part": "{delivered} colis livrés sur {count} ; le reste est en route.",
        "more": "{n} de plus",
    },
    "es": {
        "package_of": "Paquete {index} de {count}: {items}.",
        "package": "En este paquete: {items}.",
        "to_ship": "Pendiente de envío: {items}.",
        "delivered_part": "{delivered} de {count} paquetes entregados; el resto está en camino.",
        "more": "{n} más",
    },
}

HELP: Mapping[str, str] = {
    "en": "{store}: order updates. {contact}Reply STOP to opt out, START to opt back in.",
    "fr": "{store} : suivi de commande. {contact}STOP pour ne plus recevoir, START pour reprendre.",
    "es": (
        "{store}: avisos de pedidos. {contact}Responde STOP para no recibir más, START para volver."
    ),
}
HELP_CONTACT: Mapping[str, str] = {
    "en": "Help: {contact}. ",
    "fr": "Aide : {contact}. ",
    "es": "Ayuda: {contact}. ",
}
