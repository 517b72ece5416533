"""The simulated retailer's fixed world: products, where customers live, warehouses, hubs,
carriers and the codes and words their scans use.

Phone numbers come from ranges reserved for fiction (NANP 555-01xx, Ofcom's drama ranges,
ARCEP's 01 99 00, ACMA's 0491 570) or test ranges `phonenumbers` accepts as valid, so the
demo never prints a real person's number; e-mail domains are the reserved `example.*`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from wismo.domain.milestones import Milestone, Reason

STORE_SLUG = "northwind"
STORE_NAME = "Northwind Outfitters"
STORE_COUNTRY = "US"
STORE_ZONE = "America/New_York"
IMAGE_BASE = "https://cdn.northwind-outfitters.example/products"


@dataclass(frozen=True, slots=True)
class Place:
    city: str
    region: str | None
    postal_code: str | None
    country: str
    tz: str
    facility: str | None = None

    def location(self) -> dict[str, str]:
        fields = (
            ("city", self.city),
            ("region", self.region),
            ("postal_code", self.postal_code),
            ("country", self.country),
            ("facility", self.facility),
        )
        return {k: v for k, v in fields if v}


@dataclass(frozen=True, slots=True)
class Destination:
    place: Place
    weight: int
    phone_prefix: str  # E.164 start; `phone_digits` random digits complete it
    phone_digits: int
    hub: str  # key into HUBS: the regional sort centre or import gateway
    languages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    title: str
    price: Decimal  # USD
    variants: tuple[str, ...] = ()


def _p(sku: str, title: str, price: str, variants: str = "") -> Product:
    return Product(sku, title, Decimal(price), tuple(variants.split("|")) if variants else ())


_SIZES = "S|M|L|XL"
_SHOES = "US 8|US 9|US 10|US 11|US 12"
PRODUCTS: tuple[Product, ...] = (
    _p("NW-JKT-RDG", "Ridgeline Waterproof Shell Jacket", "189.00", _SIZES),
    _p("NW-JKT-SUM", "Summit Down Parka", "279.00", _SIZES),
    _p("NW-JKT-WND", "Gustline Packable Windbreaker", "89.00", _SIZES),
    _p("NW-FLC-TRL", "Trailhead Grid Fleece Hoodie", "79.00", _SIZES),
    _p("NW-FLC-CMP", "Campfire Sherpa Pullover", "98.00", _SIZES),
    _p("NW-BSL-CRW", "Merino 200 Base Layer Crew", "85.00", _SIZES),
    _p("NW-BSL-BTM", "Merino 200 Base Layer Bottoms", "79.00", _SIZES),
    _p("NW-SHT-FLN", "Backcountry Flannel Shirt", "64.00", _SIZES),
    _p("NW-TEE-ORG", "Organic Cotton Trail Tee", "32.00", _SIZES),
    _p("NW-PNT-HKR", "Switchback Hiking Pants", "94.00", "W30|W32|W34|W36"),
    _p("NW-SHR-RUN", "Trail Running Shorts 5in", "45.00", _SIZES),
    _p("NW-SCK-MRN", "Merino Hiker Socks (3-pack)", "36.00", "S/M|L/XL"),
    _p("NW-SCK-RUN", "Ultralight Running Socks", "16.00", "S/M|L/XL"),
    _p("NW-BNE-RIB", "Ribbed Merino Beanie", "29.00"),
    _p("NW-CAP-TRK", "Mountain Logo Trucker Cap", "28.00"),
    _p("NW-GLV-TCH", "Touchscreen Liner Gloves", "26.00", "S/M|L/XL"),
    _p("NW-GLV-SKI", "Insulated Ski Gloves", "69.00", "S|M|L"),
    _p("NW-BOT-CSC", "Cascade Mid Waterproof Hiking Boot", "169.00", _SHOES),
    _p("NW-SHO-TMP", "Tempo Trail Running Shoe", "139.00", _SHOES),
    _p("NW-SND-RVR", "River Crossing Sandal", "59.00", _SHOES),
    _p("NW-PCK-DAY", "Daybreak 22L Daypack", "99.00", "Slate|Sage"),
    _p("NW-PCK-OVN", "Overnighter 45L Backpack", "219.00"),
    _p("NW-PCK-HIP", "Trail Hip Pack 3L", "39.00"),
    _p("NW-DUF-EXP", "Expedition Duffel 70L", "149.00"),
    _p("NW-TNT-BC2", "Basecamp 2-Person Tent", "329.00"),
    _p("NW-TNT-FTP", "Basecamp 2P Tent Footprint", "45.00"),
    _p("NW-SLB-A20", "Alpine 20F Sleeping Bag", "249.00", "Regular|Long"),
    _p("NW-SLP-INS", "Insulated Sleeping Pad", "119.00", "Regular|Wide"),
    _p("NW-PLW-INF", "Inflatable Camp Pillow", "29.00"),
    _p("NW-HLP-400", "Beacon 400 Rechargeable Headlamp", "49.00"),
    _p("NW-LNT-CMP", "Collapsible Camp Lantern", "34.00"),
    _p("NW-BTL-750", "Insulated Steel Bottle 750 ml", "35.00", "Slate|Sage|Ember"),
    _p("NW-MUG-ENM", "Enamel Camp Mug", "18.00"),
    _p("NW-STV-TI1", "Titanium Backpacking Stove", "69.00"),
    _p("NW-CKW-NST", "Nesting Cook Set", "79.00"),
    _p("NW-FLT-SQZ", "Squeeze Water Filter", "42.00"),
    _p("NW-PLS-CRB", "Carbon Trekking Poles (pair)", "159.00"),
    _p("NW-FAK-ULT", "Ultralight First-Aid Kit", "32.00"),
    _p("NW-SUN-M50", "Mineral Sunscreen SPF 50", "14.00"),
    _p("NW-CHR-PCK", "Packable Camp Chair", "89.00"),
)


LANGUAGES = {"CA": ("en-CA", "en-CA", "fr-CA"), "GB": ("en-GB",), "DE": ("de-DE",)}
LANGUAGES |= {"FR": ("fr-FR",), "AU": ("en-AU",)}
_NY, _CHI, _DEN, _LA = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
)
_EN_US, _EN_ES = ("en-US",), ("en-US", "en-US", "en-US", "es-US")
_ROWS: tuple[tuple[Any, ...], ...] = (
    ("New York", "NY", "10011", "US", _NY, 9, "+121255501", 2, "NE", _EN_ES),
    ("Brooklyn", "NY", "11215", "US", _NY, 6, "+171855501", 2, "NE", _EN_ES),
    ("Boston", "MA", "02116", "US", _NY, 5, "+161755501", 2, "NE", _EN_US),
    ("Philadelphia", "PA", "19103", "US", _NY, 4, "+121555501", 2, "NE", _EN_US),
    ("Washington", "DC", "20009", "US", _NY, 4, "+120255501", 2, "NE", _EN_US),
    ("Atlanta", "GA", "30308", "US", _NY, 3, "+140455501", 2, "SE", _EN_US),
    ("Miami", "FL", "33130", "US", _NY, 3, "+130555501", 2, "SE", _EN_ES),
    ("Raleigh", "NC", "27601", "US", _NY, 2, "+191955501", 2, "SE", _EN_US),
    ("Nashville", "TN", "37203", "US", _CHI, 2, "+161555501", 2, "SE", _EN_US),
    ("Columbus", "OH", "43215", "US", _NY, 2, "+161455501", 2, "MW", _EN_US),
    ("Chicago", "IL", "60614", "US", _CHI, 6, "+131255501", 2, "MW", _EN_ES),
    ("Minneapolis", "MN", "55401", "US", _CHI, 3, "+161255501", 2, "MW", _EN_US),
    ("Madison", "WI", "53703", "US", _CHI, 2, "+160855501", 2, "MW", _EN_US),
    ("Austin", "TX", "78704", "US", _CHI, 4, "+151255501", 2, "TX", _EN_ES),
    ("Denver", "CO", "80202", "US", _DEN, 4, "+130355501", 2, "MT", _EN_US),
    ("Salt Lake City", "UT", "84101", "US", _DEN, 2, "+180155501", 2, "MT", _EN_US),
    ("Phoenix", "AZ", "85004", "US", "America/Phoenix", 2, "+160255501", 2, "MT", _EN_ES),
    ("Seattle", "WA", "98101", "US", _LA, 5, "+120655501", 2, "NW", _EN_US),
    ("Portland", "OR", "97209", "US", _LA, 3, "+150355501", 2, "NW", _EN_US),
    ("San Francisco", "CA", "94110", "US", _LA, 5, "+141555501", 2, "WE", _EN_ES),
    ("Los Angeles", "CA", "90026", "US", _LA, 5, "+121355501", 2, "WE", _EN_ES),
    ("Toronto", "ON", "M5V 2T6", "CA", "America/Toronto", 4, "+141655501", 2, "CA", ()),
    ("Vancouver", "BC", "V6B 1A1", "CA", "America/Vancouver", 2, "+160455501", 2, "CA", ()),
    ("Montréal", "QC", "H2X 1Y4", "CA", "America/Toronto", 2, "+151455501", 2, "CA", ()),
    ("London", None, "EC1V 9HX", "GB", "Europe/London", 4, "+442079460", 3, "GB", ()),
    ("Manchester", None, "M1 1AE", "GB", "Europe/London", 2, "+441614960", 3, "GB", ()),
    ("Edinburgh", None, "EH1 1YZ", "GB", "Europe/London", 1, "+441314960", 3, "GB", ()),
    ("Berlin", "BE", "10115", "DE", "Europe/Berlin", 2, "+49301234", 4, "DE", ()),
    ("München", "BY", "80331", "DE", "Europe/Berlin", 1, "+49891234", 4, "DE", ()),
    ("Paris", None, "75011", "FR", "Europe/Paris", 2, "+3319900", 4, "FR", ()),
    ("Lyon", None, "69002", "FR", "Europe/Paris", 1, "+3319900", 4, "FR", ()),
    ("Sydney", "NSW", "2000", "AU", "Australia/Sydney", 2, "+614915701", 2, "AU", ()),
    ("Melbourne", "VIC", "3000", "AU", "Australia/Melbourne", 1, "+614915701", 2, "AU", ()),
)
DESTINATIONS = tuple(
    Destination(
        Place(city, region, postal, country, tz),
        weight,
        prefix,
        digits,
        hub,
        langs or LANGUAGES[country],
    )
    for city, region, postal, country, tz, weight, prefix, digits, hub, langs in _ROWS
)

CURRENCY = {"US": "USD", "CA": "CAD", "GB": "GBP", "DE": "EUR", "FR": "EUR", "AU": "AUD"}
# Fixed list-price conversion, as a shop's price list would be (not live rates).
RATE = {"USD": "1", "CAD": "1.36", "GBP": "0.79", "EUR": "0.92", "AUD": "1.52"}

STREETS = {
    "US": ("Maple Avenue", "Oak Street", "Cedar Lane", "Park Place", "Highland Avenue"),
    "CA": ("King Street West", "Bloor Street", "Granville Street", "Rue Saint-Denis"),
    "GB": ("High Street", "Church Road", "Victoria Road", "Station Road", "Mill Lane"),
    "DE": ("Hauptstraße", "Bahnhofstraße", "Gartenstraße", "Schillerstraße"),
    "FR": ("rue de la République", "avenue Jean Jaurès", "rue Victor Hugo"),
    "AU": ("George Street", "Collins Street", "Queen Street", "Smith Street"),
}


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST = {
    "en": _words(
        "Maya Olivia Ethan Noah Ava Liam Sofia Lucas Chloe James Amara Daniel Priya Mateo "
        "Hannah Owen Zoe Caleb Grace Isaac Nora Elijah Leah Jonah Ruby Samir Emma Theo"
    ),
    "de": _words("Lena Jonas Mia Felix Hannah Paul Lea Lukas Emilia Maximilian Clara Leon"),
    "fr": _words("Camille Louis Chloé Hugo Manon Jules Léa Arthur Inès Gabriel Zoé Raphaël"),
}
LAST = {
    "en": _words(
        "Patel Nguyen Johnson Garcia Okafor Kim Walker Rivera Chen Murphy Rossi Cohen Brooks "
        "Alvarez Hughes Singh Bennett Foster Reyes Hayes Carter Ward Silva Morgan Price"
    ),
    "de": _words("Müller Schmidt Schneider Fischer Weber Becker Wagner Hoffmann Schulz Koch"),
    "fr": _words("Martin Bernard Dubois Thomas Robert Petit Durand Leroy Moreau Fournier"),
}
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")

# Warehouses: New Jersey for the Americas and Australia, a UK 3PL for Britain and the EU.
EDISON = Place("Edison", "NJ", "08817", "US", _NY, "Northwind Fulfilment Center")
DAVENTRY = Place("Daventry", "Northamptonshire", "NN11 8UH", "GB", "Europe/London", "DIRFT 3PL")

HUBS: dict[str, Place] = {
    "NE": Place("Secaucus", "NJ", None, "US", _NY),
    "SE": Place("Atlanta", "GA", None, "US", _NY),
    "MW": Place("Hodgkins", "IL", None, "US", _CHI),
    "TX": Place("Dallas", "TX", None, "US", _CHI),
    "MT": Place("Salt Lake City", "UT", None, "US", _DEN),
    "NW": Place("Kent", "WA", None, "US", _LA),
    "WE": Place("Ontario", "CA", None, "US", _LA),
    "CA": Place("Mississauga", "ON", None, "CA", "America/Toronto", "Gateway"),
    "AU": Place("Mascot", "NSW", None, "AU", "Australia/Sydney", "Sydney Gateway"),
    "GB": Place("Hinckley", "Leicestershire", None, "GB", "Europe/London", "Hub"),
    "DE": Place("Aschaffenburg", "BY", None, "DE", "Europe/Berlin", "Hub"),
    "FR": Place("Roissy-en-France", None, None, "FR", "Europe/Paris", "CDG Hub"),
    "ups": Place("Louisville", "KY", None, "US", "America/Kentucky/Louisville", "Worldport"),
    "fedex": Place("Memphis", "TN", None, "US", _CHI, "World Hub"),
    "dhl_express": Place("Hebron", "KY", None, "US", _NY, "CVG Hub"),
    "dhl_express_eu": Place("Leipzig", "SN", None, "DE", "Europe/Berlin", "Hub"),
    "royalmail": Place("Northampton", None, None, "GB", "Europe/London", "Mail Centre"),
}

# Shipping methods per destination country: (method, carrier, service, business days).
SERVICES: dict[str, tuple[tuple[str, str, str, int], ...]] = {
    "US": (
        ("standard", "ups", "UPS Ground", 4),
        ("standard", "fedex", "FedEx Ground", 4),
        ("standard", "usps", "USPS Ground Advantage", 4),
        ("express", "ups", "UPS 2nd Day Air", 2),
        ("express", "fedex", "FedEx 2Day", 2),
        ("express", "usps", "USPS Priority Mail", 2),
    ),
    "CA": (
        ("international", "ups", "UPS Worldwide Saver", 3),
        ("international", "fedex", "FedEx International Priority", 3),
        ("international", "dhl_express", "DHL Express Worldwide", 3),
    ),
    "AU": (
        ("international", "dhl_express", "DHL Express Worldwide", 4),
        ("international", "fedex", "FedEx International Priority", 5),
    ),
    "GB": (
        ("standard", "royalmail", "Royal Mail Tracked 48", 2),
        ("express", "dpd", "DPD Next Day", 1),
    ),
    "DE": (
        ("international", "dpd", "DPD Classic", 4),
        ("international", "dhl_express", "DHL Express Worldwide", 2),
    ),
    "FR": (
        ("international", "dpd", "DPD Classic", 4),
        ("international", "dhl_express", "DHL Express Worldwide", 2),
    ),
}
# (from, to) business days after the order is placed, per method: fulfilment plus transit.
PROMISE = {"standard": (4, 7), "express": (2, 4), "international": (5, 10)}
SHIPPING_FEE = {"standard": "7.95", "express": "19.95", "international": "29.95"}
FREE_SHIPPING_OVER = Decimal("100")
ETA_CARRIERS = frozenset({"ups", "fedex", "dhl_express", "dpd", "usps"})
RETURN_CARRIER = {"US": "usps", "CA": "ups", "GB": "royalmail", "DE": "dpd", "FR": "dpd"}
RETURN_CARRIER |= {"AU": "dhl_express"}

# What each kind of scan means, and the carrier's own code for it, in this kind order.
KINDS: dict[str, tuple[Milestone, Reason]] = {
    "pickup": (Milestone.PICKED_UP, Reason.NONE),
    "arrive": (Milestone.IN_TRANSIT, Reason.NONE),
    "depart": (Milestone.IN_TRANSIT, Reason.NONE),
    "dest": (Milestone.IN_TRANSIT, Reason.NONE),
    "ofd": (Milestone.OUT_FOR_DELIVERY, Reason.NONE),
    "delivered": (Milestone.DELIVERED, Reason.NONE),
    "collected": (Milestone.DELIVERED, Reason.NONE),
    "attempt": (Milestone.DELIVERY_ATTEMPT_FAILED, Reason.RECIPIENT_UNAVAILABLE),
    "address": (Milestone.DELIVERY_ATTEMPT_FAILED, Reason.ADDRESS_PROBLEM),
    "refused": (Milestone.DELIVERY_ATTEMPT_FAILED, Reason.REFUSED),
    "pickup_point": (Milestone.AVAILABLE_FOR_PICKUP, Reason.NONE),
    "weather": (Milestone.EXCEPTION, Reason.WEATHER),
    "delay": (Milestone.IN_TRANSIT, Reason.CARRIER_DELAY),
    "customs": (Milestone.EXCEPTION, Reason.CUSTOMS_HOLD),
    "released": (Milestone.IN_TRANSIT, Reason.NONE),
    "slip": (Milestone.IN_TRANSIT, Reason.NONE),
    "damaged": (Milestone.EXCEPTION, Reason.DAMAGED),
    "lost": (Milestone.EXCEPTION, Reason.LOST),
    "rts": (Milestone.RETURNING_TO_SENDER, Reason.NONE),
    "rtsd": (Milestone.RETURNED_TO_SENDER, Reason.NONE),
    "corrected": (Milestone.IN_TRANSIT, Reason.NONE),
}
_CODES = {
    "ups": "P I/AR I/DP I/AR O/OT D/FS D/AP X/02 X/7Q X/RF X/A9 X/48 X/46 X/CD I/CR I/RS X/DM "
    "X/TR U/RS U/RD I/AC",
    "fedex": "PU AR DP AR OD DL DL DE DE DE HL SE DY CD CC IT SE SE RS RD AD",
    "usps": "03 07 10 07 OF 01 01 02 21 04 MA 64 15 16 17 15 50 53 09 29 40",
    "dhl_express": "PU AF DF AR WC OK OK NH BA RD PL MD DY CD CR PL DM MS RT RT CA",
    "royalmail": "EVKOP EVNRC EVNMI EVNRC EVNOT EVKSP EVKLS EVNKS EVNDA EVNRF EVNLC EVNWT EVNDL "
    "EVNCS EVNCR EVNMI EVNDM EVNLS EVNRS EVNRT EVNAC",
    "dpd": "01 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20 21",
}
CODES: dict[str, dict[str, str]] = {
    carrier: dict(zip(KINDS, codes.split(), strict=True)) for carrier, codes in _CODES.items()
}
DESCRIPTIONS = {
    "pickup": "Picked up",
    "arrive": "Arrived at facility",
    "depart": "Departed facility",
    "dest": "Arrived at local delivery facility",
    "ofd": "Out for delivery",
    "delivered": "Delivered",
    "collected": "Collected from pickup point",
    "attempt": "Delivery attempted: nobody available to receive the package",
    "address": "Delivery attempted: the address is incomplete or incorrect",
    "refused": "Delivery refused by the recipient",
    "pickup_point": "Ready for collection at a pickup point",
    "weather": "Severe weather is delaying the shipment",
    "delay": "Running late: the shipment missed its planned connection",
    "customs": "Held by customs: import clearance in progress",
    "released": "Customs clearance complete",
    "slip": "In transit: the delivery date has changed",
    "damaged": "Package damaged in transit",
    "lost": "Package cannot be located; a trace has been opened",
    "rts": "Returning to sender",
    "rtsd": "Returned to sender",
    "corrected": "Address corrected; delivery rescheduled",
}
# Carrier wording where it differs from the plain one above.
OVERRIDES: dict[str, dict[str, str]] = {
    "usps": {
        "pickup": "USPS in possession of item",
        "arrive": "Arrived at USPS Regional Facility",
        "depart": "Departed USPS Regional Facility",
        "dest": "Arrived at Post Office",
        "attempt": "Notice Left (No Authorized Recipient Available)",
        "address": "Insufficient Address",
    },
    "ups": {"ofd": "Out For Delivery Today", "attempt": "The receiver was not available"},
    "fedex": {"ofd": "On FedEx vehicle for delivery", "dest": "At local FedEx facility"},
    "dhl_express": {"ofd": "With delivery courier", "customs": "Clearance event: on hold"},
    "royalmail": {
        "pickup": "We've got your item",
        "ofd": "Your item is out for delivery",
        "attempt": "Sorry we missed you: we left a card",
        "pickup_point": "Your item is ready to collect from the Post Office",
    },
    "dpd": {
        "pickup": "We've collected your parcel",
        "ofd": "Your parcel is out for delivery with your DPD driver",
        "pickup_point": "Your parcel is at a DPD Pickup shop, ready to collect",
        "delay": "We're sorry, your parcel is delayed",
    },
}
DELIVERED_NOTES = (
    "left at front door",
    "handed to resident",
    "left with receptionist",
    "in mailbox",
    "left at back porch",
)
CANCEL_REASONS = ("Customer changed their mind", "Item out of stock", "Duplicate order")
RETURN_REASONS = (
    "Too small",
    "Too large",
    "Changed my mind",
    "Not as pictured",
    "Arrived damaged",
    "Ordered two sizes; returning one",
)


def describe(carrier: str, kind: str) -> str:
    return OVERRIDES.get(carrier, {}).get(kind) or DESCRIPTIONS[kind]
