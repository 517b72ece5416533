"""Which carrier scans put a parcel at the facility that delivers it (text and place rules)."""

from __future__ import annotations

import pytest

from wismo.domain.arrival import Place, place_from, reached_destination


@pytest.mark.parametrize(
    "description",
    [
        # USPS
        "Arrived at USPS Destination Facility",
        "Accepted at USPS Destination Facility, June 16, 2022, 1:00 pm, FAIRFAX, VA 22031",
        "Accepted at USPS Destination Sort Facility",
        "Arrived at USPS Regional Destination Facility",
        "Arrived at Post Office",
        "ARRIVED AT POST OFFICE",
        # UPS
        "Destination Scan",
        "DESTINATION SCAN",
        "Destination scan \u2013 the package is at the last UPS building before delivery",
        "Received by the local post office",
        "At Local Post Office",
        "Post Office To Deliver In 1 To 2 Days",
        "On Hand at Destination",
        # FedEx
        "At local FedEx facility",
        "At FedEx Destination",
        "At destination sort facility",
        # DHL Express
        "Arrived at Delivery Facility in LONDON - UK",
        # Royal Mail
        "Item received at your local delivery office",
        "We've got it at your local delivery office",
        # DPD / Evri
        "At your local depot",
        "Parcel at delivery depot",
        "Your parcel has arrived at the final depot",
        # Amazon
        "Arrived at delivery station",
        "Package arrived at destination facility",
        # La Poste / Colissimo
        "Votre colis est arrivé sur son site de distribution",
        "Votre colis est dans le site de livraison qui dessert votre adresse. "
        "Nous le préparons pour le mettre en livraison.",
        "VOTRE COLIS EST ARRIVE SUR SON SITE DE LIVRAISON",
        "Colis arrivé à l\u2019agence de livraison",
        # DHL Paket / Post AT / DPD DE
        "Die Sendung wurde im Ziel-Paketzentrum bearbeitet.",
        "Die Sendung ist im Zielpaketzentrum eingetroffen.",
        "Sendung in Zustellbasis eingelangt",
        "Paket im Zustelldepot eingetroffen",
        # Correos / SEUR / MRW
        "El envío ha llegado a la oficina de destino",
        "Llegada a delegación de destino",
        "En centro de destino",
        "Recibido en centro de reparto",
        # PostNL / DHL NL
        "Zending is aangekomen bij het afleverdepot",
        "Pakket is bij het sorteercentrum in de buurt",
        # BRT / Poste Italiane
        "Spedizione arrivata alla filiale di destinazione",
        "Arrivata al centro di distribuzione di destinazione",
        # Correios
        "Objeto recebido na unidade de distribuição",
        "OBJETO RECEBIDO NA UNIDADE DE DISTRIBUICAO",
    ],
)
def test_texts_naming_the_delivery_facility_count(description: str) -> None:
    assert reached_destination(description) is True


@pytest.mark.parametrize(
    "description",
    [
        # moving towards the destination facility
        "In transit to destination facility",
        "En route to the destination depot",
        "Forwarded to delivery office",
        "Package moving to local post office",
        "Package transferred to post office",
        "Parcel is on its way to the final depot",
        "The package will be forwarded to a UPS facility in the destination city.",
        "Postage Paid/Ready for destination post office entry",
        "Objeto encaminhado para Unidade de Distribuição",
        "Objeto em trânsito - por favor aguarde de Unidade de Tratamento "
        "para Unidade de Distribuição",
        "Die Sendung ist unterwegs zum Zielpaketzentrum",
        "Die Sendung wird zum Ziel-Paketzentrum transportiert.",
        "Votre colis est en cours d'acheminement vers son site de livraison",
        "En tránsito hacia la oficina de destino",
        "Zending is onderweg naar het afleverdepot",
        "In transito verso la filiale di destinazione",
        # departures
        "Departed from origin facility",
        "Departed Post Office",
        "Departed facility",
        "Left delivery depot",
        "Votre colis a quitté son site de distribution",
        "Die Sendung hat das Ziel-Paketzentrum verlassen",
        # generic hub scans
        "Arrived at Facility",
        "Arrived at sort facility",
        "Processed at DHL facility",
        "Processed through Australia Post facility",
        "Arrived at FedEx location",
        "ARRIVAL SCAN",
        "The shipment has arrived at the Hermes distribution center.",
        "Votre colis est en transit sur nos plateformes logistiques.",
        # the destination country is not the destination facility
        "Arrived at destination country",
        "Arrived at facility in destination country",
        "Package arrived in destination country",
        "Shipment received in country of destination",
        "Votre colis est arrivé dans le pays du destinataire.",
        "Objeto chegou ao país de destino",
        "Your package arrived late to the destination city.",
        # problems at or on the way to the facility
        "The package did not arrive at the destination.",
        "The package was missed at the destination location.",
        "Your UPS SurePost package was transferred to the wrong post office.",
        "No authorized addressee is available at destination",
        "Shipment expected, but not yet arrived at PostNL",
        # other milestones
        "Out for Delivery",
        "OUT FOR DELIVERY",
        "With Australia Post for delivery today",
        "Delivered",
        "Delivered to Post Office for Pickup",
        "Delivered by Local Post Office",
        "Held at Post Office, At Customer Request",
        "Post Office Delivery Attempted",
        "Package has arrived at destination pick-up point",
        "Votre colis est livré.",
        "Die Sendung wurde erfolgreich zugestellt.",
        "Entregado",
        "Zending is bezorgd",
        "Consegnata",
        "Objeto saiu para entrega ao destinatário",
        # nothing to read
        "",
        None,
    ],
)
def test_other_texts_do_not(description: str | None) -> None:
    assert reached_destination(description) is False


FAIRFAX = Place(city="Fairfax", postal_code="22031", country="US")


@pytest.mark.parametrize(
    ("scan", "destination"),
    [
        # US: a ZIP+4 names a block inside the 5-digit ZIP
        (Place(postal_code="22031-4512", country="US"), FAIRFAX),
        (Place(postal_code="220314512"), Place(postal_code="22031")),
        # one town, several ZIPs
        (Place(city="FAIRFAX", postal_code="22032", country="us"), FAIRFAX),
        # GB: same outward code (district), whatever the inward code and the spacing
        (Place(postal_code="SW1A 2AA", country="GB"), Place(postal_code="sw1a1aa", country="GB")),
        (Place(postal_code="M1", country="GB"), Place(postal_code="M1 1AE", country="GB")),
        (Place(postal_code="EC1A 1BB"), Place(postal_code="EC1A 7BE", country="gb")),
        # NL: the 4 digits name the neighbourhood
        (Place(postal_code="1012 AB", country="NL"), Place(postal_code="1012JS", country="NL")),
        # elsewhere: the whole code
        (Place(postal_code="75008", country="FR"), Place(postal_code="75 008", country="FR")),
        # accents, case, punctuation and Saint/St in city names
        (Place(city="SAINT-ETIENNE", country="FR"), Place(city="St Étienne", country="fr")),
        (Place(city="München"), Place(city="MUNCHEN", country="DE")),
        (Place(city="Zürich", postal_code="8001"), Place(city="zurich", postal_code="8004")),
        # an unknown country does not differ
        (Place(city="Lyon"), Place(city="Lyon", postal_code="69001", country="FR")),
    ],
)
def test_a_generic_scan_at_the_destination_place_counts(scan: Place, destination: Place) -> None:
    assert reached_destination("Arrived at Facility", scan, destination) is True
    # having been there is enough: leaving the destination town is not a reason to wait longer
    assert reached_destination("Departed facility", scan, destination) is True
    assert reached_destination(None, scan, destination) is True


@pytest.mark.parametrize(
    ("scan", "destination"),
    [
        # countries differ: Paris TX is not Paris FR, 10115 is Berlin and a US ZIP
        (Place(city="Paris", country="US"), Place(city="Paris", country="FR")),
        (Place(postal_code="10115", country="US"), Place(postal_code="10115", country="DE")),
        # different ZIPs, no city to go on
        (Place(postal_code="22031"), Place(postal_code="22151")),
        # namesakes in one country, told apart by their ZIPs' sectional centre
        (
            Place(city="Springfield", postal_code="62701", country="US"),
            Place(city="Springfield", postal_code="65801", country="US"),
        ),
        # different outward codes in one postcode area
        (Place(postal_code="SW1A 1AA", country="GB"), Place(postal_code="SW1V 1AA", country="GB")),
        # a shared 4-character prefix is not the same town
        (Place(postal_code="01000", country="FR"), Place(postal_code="01001", country="FR")),
        # only a country in common
        (Place(country="FR"), Place(country="FR")),
        (Place(city="Lyon"), Place(postal_code="69001")),
    ],
)
def test_a_generic_scan_elsewhere_does_not(scan: Place, destination: Place) -> None:
    assert reached_destination("Arrived at Facility", scan, destination) is False


def test_the_place_rule_needs_both_places() -> None:
    assert reached_destination("Arrived at Facility", FAIRFAX, None) is False
    assert reached_destination("Arrived at Facility", None, FAIRFAX) is False


@pytest.mark.parametrize(
    "description",
    [
        "Out for Delivery",
        "Delivered, Parcel Locker",
        "Shipping Label Created, USPS Awaiting Item",
        "Shipment information sent to FedEx",
        "Pre-Shipment Info Sent to USPS",
    ],
)
def test_later_milestones_and_pre_transit_records_never_match_by_place(description: str) -> None:
    # a same-town shipment: the shop's label and the final delivery are both in Fairfax
    assert reached_destination(description, FAIRFAX, FAIRFAX) is False


def test_the_text_alone_suffices_whatever_the_place() -> None:
    elsewhere = Place(city="Chantilly", postal_code="20151", country="US")
    assert reached_destination("Arrived at Post Office", elsewhere, FAIRFAX) is True


def test_place_from_reads_scan_locations_and_addresses() -> None:
    location = {
        "city": "FAIRFAX",
        "region": "VA",
        "postal_code": "22031",
        "country": "US",
        "facility": "FAIRFAX POST OFFICE",
    }
    address = {"name": "Ann", "line1": "1 Main St", "city": " Lyon ", "country": "FR"}
    assert place_from(location) == Place(city="FAIRFAX", postal_code="22031", country="US")
    assert place_from(address) == Place(city="Lyon", country="FR")
    assert place_from({"postal_code": "SW1A 1AA"}) == Place(postal_code="SW1A 1AA")


@pytest.mark.parametrize(
    "mapping",
    [
        None,
        {},
        {"region": "VA", "facility": "HUB"},
        {"city": "", "postal_code": "  ", "country": None},
        {"city": 12, "postal_code": ["22031"]},
    ],
)
def test_place_from_without_city_code_or_country_is_none(
    mapping: dict[str, object] | None,
) -> None:
    assert place_from(mapping) is None
