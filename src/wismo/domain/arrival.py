"""Has a parcel reached the facility that will deliver it? (pure, per scan)

The delivery estimator re-forecasts from the scan that puts the parcel at its destination
facility (the depot, delivery station or post office that takes it out on the last leg):
from there, 0-2 business days are typically left. Carriers do not share a code for that
moment, so it is read from two things every scan has:

1. Its text. Carriers name the last facility in their own words ("Arrived at USPS
   Destination Facility", "Destination Scan", "Zustellbasis", "site de livraison",
   "unidade de distribuição"...). Generic hub scans ("Arrived at Facility", "Processed at")
   say nothing about which hub, so they are not enough on their own. A scan that only
   moves the parcel *towards* that facility ("In transit to destination facility",
   "encaminhado para", "unterwegs zum Zielpaketzentrum") or reports a problem there
   ("not arrived", "wrong post office") does not count either.
2. Its place. A generic hub scan in the destination's postal district or town shows the
   parcel is there whatever the words say, so a place match counts, departures included:
   a departure from the destination town proves the parcel was in it (we do not try to tell
   "left for the van" from "left for the wrong town"; the next scan corrects a misroute).

Both rules first drop scans that belong to other milestones (pre-transit records for the
place rule; out for delivery, delivered, pick-up, attempts and returns for both), so the
caller can ask about any scan without first classifying it.

Carrier wording checked against ../shared/data (read, never copied): USPS tracking.yaml
<event> samples and usps(_international)__tracking_responses.json ("Accepted at USPS
Destination Facility", "Arrived at Post Office", "Departed Post Office", "Arrived at USPS
Regional Facility"); UPS delivery-codes and mail-innovation tables ("Destination scan - the
package is at the last UPS building before delivery", "Received by the local post office",
"Package moving to local post office", "Accepted at USPS Destination Sort Facility",
"Package Arrived in Destination Country", "Ready for destination post office entry",
"transferred to the wrong post office"); FedEx status codes ("At local FedEx Facility",
"At FedEx Destination", "Arrived at FedEx location"); GLS ecitrackandtrace.yaml ("on its
way to the final depot"); laposte__tracking_response.json ("dans le site de livraison qui
dessert votre adresse", "arrivé dans le pays du destinataire"); parcelone ("Package arrived
at destination facility"); teleship, australiapost, seko ("arrived in destination
country", "Arrived at facility in destination country", "International transit to
destination country", "With Australia Post for delivery today"); hermes ("arrived at the
Hermes distribution center", a hub); aggregators: aftership checkpoints ("Shipment
received in country of destination", "Shipment expected, but not yet arrived at PostNL",
"Arrived at destination country") and easypost trackers ("Arrived at FedEx location",
"ARRIVAL SCAN"). The other languages' phrases come from the carriers' public tracking
wording (DHL/DPD/GLS DE, Correos/SEUR/MRW, PostNL/DHL NL, BRT/Poste Italiane, Correios).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class Place:
    city: str | None = None
    postal_code: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2, any case


def _compile(*alternatives: str) -> re.Pattern[str]:
    # Patterns are written with single spaces; carriers separate words with runs of spaces,
    # hyphens or slashes ("Ziel-Paketzentrum", "pick-up"), so a space means any such run.
    # " ?" makes the separator optional ("Zielpaketzentrum" and "Ziel-Paketzentrum").
    pattern = "|".join(alternatives).replace(" ?", r"\W*").replace(" ", r"\W+")
    return re.compile(pattern)


# Scans that belong to a later (or side) milestone: the estimator handles those itself, and a
# delivered scan in the destination town must not be re-read as "arrived at the depot".
_OTHER_MILESTONE = _compile(
    r"\bout for delivery\b",
    r"\bon ?board for delivery\b",
    r"\bfor delivery today\b",
    r"\bwith (the )?(courier|driver)\b",
    r"\bloaded (on|onto) (the )?(delivery )?(vehicle|van|truck)\b",
    r"\bdelivered\b",
    r"\bdelivery attempt",
    r"\battempt(ed)?\b",
    r"\b(available|ready|held) for (pick ?up|collection)\b",
    r"\bheld at (the )?post office\b",
    r"\bpick ?up point\b",
    r"\baccess point\b",
    r"\bparcel ?(shop|locker)\b",
    r"\breturn(ed|ing)? to (the )?sender\b",
    # fr
    r"\ben cours de livraison\b",
    r"\b(est|a ete) (livre|distribue)e?\b",
    r"\bretour\b",
    r"\bpoint (relais|retrait)\b",
    # de
    r"\bzugestellt\b",
    r"\bin zustellung\b",
    r"\bzustellfahrzeug\b",
    r"\bausgeliefert\b",
    r"\babholung\b",
    r"\bpackstation\b",
    r"\brucksendung\b",
    # es
    r"\ben reparto\b",
    r"\bentregad[oa]\b",
    r"\bdevuelt[oa]\b",
    # nl
    r"\bbezorgd\b",
    r"\bbezorger\b",
    r"\bafgeleverd\b",
    # it
    r"\bconsegnat[oa]\b",
    r"\bin consegna\b",
    # pt
    r"\bsaiu para entrega\b",
    r"\bentregue\b",
    r"\b(aguardando|disponivel para) retirada\b",
    r"\bdevolvid[oa]\b",
)

# Records made before the carrier holds the parcel: at a same-town shipment the shop's own
# address matches the destination, yet a label says nothing about the depot.
_PRE_TRANSIT = _compile(
    r"\blabel (created|printed)\b",
    r"\bpre ?shipment\b",
    r"\bawaiting item\b",
    r"\b(shipment |shipping |electronic )?(information|info|data) "
    r"(received|sent|submitted|entered)",
    r"\bnotified\b",
    r"\bnot yet (arrived|received)\b",
    r"\bexpected\b",
    r"\bcree\b|\ben cours de preparation\b|\bva bientot nous etre confie\b",
    r"\belektronisch angekundigt\b|\bdaten (wurden )?(ubermittelt|empfangen)\b",
    r"\bpre ?aviso\b|\bpre ?admisi",
    r"\bvoorgemeld\b|\bnog niet\b",
    r"\bpostado\b|\bpostagem\b",
)

# Words that name the destination / delivery facility, after folding to lower-case ASCII.
_AT_DESTINATION = _compile(
    # en: USPS "Destination Facility" / "Destination Sort Facility", UPS "Destination Scan",
    # parcelone "destination facility"; "destination country" is deliberately absent.
    r"\bdestination (sort |sorting |delivery |distribution |processing |mail )?"
    r"(facility|depot|hub|site|station|office|post office|branch|terminal|scan|unit"
    r"|building|centre|center)\b",
    # FedEx "At FedEx Destination", UPS freight "On Hand at Destination"
    r"\bat (the )?(fedex |ups |dhl |usps )?destination\b(?! country| countries| airport"
    r"| gateway| customs| pick)",
    r"\blast \w+ building before delivery\b",
    # DHL Express "Delivery Facility", Amazon "delivery station", Royal Mail "delivery
    # office", DPD/Evri "delivery depot"
    r"\bdelivery (facility|station|depot|office|unit|hub|base)\b",
    r"\b(local|your) (\w+ ){0,2}(facility|depot|post office|delivery office|station|hub"
    r"|branch)\b",
    r"\bpost office\b",
    r"\bfinal depot\b",
    r"\blast ?mile (facility|depot|hub|station)\b",
    # fr: La Poste / Colissimo "site de livraison qui dessert votre adresse",
    # "site de distribution"; Chronopost "agence de livraison"
    r"\b(site|agence|depot) de (livraison|distribution)\b",
    r"\b(site|agence|depot|centre|plate ?forme|bureau) de destination\b",
    # de: DHL "Ziel-Paketzentrum", Post AT "Zustellbasis", DPD/GLS "Zustelldepot"
    r"\bziel ?paketzentrum\b",
    r"\bziel ?depot\b",
    r"\bzustell(basis|depot|stutzpunkt|standort)\b",
    # es: Correos "oficina de destino", SEUR/MRW "delegación de destino", "centro de reparto"
    r"\b(oficina|centro|delegacion|almacen|agencia|sucursal|plataforma|nave) de "
    r"(destino|reparto)\b",
    r"\bunidad de reparto\b",
    # nl
    r"\bafleverdepot\b|\bbezorgdepot\b",
    r"\b(depot|sorteercentrum) in de buurt\b",
    r"\bdepot van (de )?ontvanger\b",
    # it: BRT "filiale di destinazione", "centro di distribuzione di destinazione"
    r"\b(filiale|sede|deposito|centro|hub|ufficio) (\w+ ){0,2}di (destinazione|consegna"
    r"|recapito)\b",
    r"\bcentro (di )?recapito\b",
    # pt-BR: Correios "unidade de distribuição"
    r"\bunidade (de )?(distribuicao|entrega|destino)\b",
    r"\bagencia de destino\b",
    r"\bcentro de distribuicao domiciliar\b",
)

# Scans that move the parcel towards that facility, leave a facility, or report that it did
# not get there. Checked only after a text match, so they cost nothing on ordinary scans.
_NOT_THERE = _compile(
    # en: moving on or towards
    r"\b(in )?transit (to|towards)\b",
    r"\ben ?route (to|for)\b",
    r"\bon (its|the|their) way\b",
    r"\b(forwarded|forwarding|sent|moving|moved|heading|transferred|dispatched|bound) "
    r"(back )?(to|towards|for)\b",
    r"\bdepart(ed|s|ing|ure)?\b",
    r"\bleft\b",
    r"\bdispatched\b",
    r"\bwill be (forwarded|transferred|sent)\b",
    r"\bscheduled for transfer\b",
    r"\binstead of\b",
    r"\bready for\b",
    # en: did not get there, or a problem there
    r"\bnot\b",
    r"\bno (authori[sz]ed|one|access|such)\b",
    r"\bcannot\b|\bunable\b|\bmissed\b|\brefused\b|\bwrong\b|\bincorrect(ly)?\b",
    r"\bmis ?(sorted|routed|sent)\b",
    r"\bexception\b|\bseized\b|\bdispos",
    # fr
    r"\ba quitte\b",
    r"\best parti\b",
    r"\bacheminement vers\b|\bachemine vers\b|\ben route vers\b|\ben transit vers\b",
    r"\ba destination de\b",
    r"\b(transfere|expedie|envoye)e? vers\b",
    r"\bn'?(a|est) pas\b",
    # de
    r"\bunterwegs\b|\bauf dem weg\b",
    r"\bverlassen\b|\bweitergeleitet\b|\babgegangen\b",
    r"\b(zum|zur|in das|in die) ziel",
    r"\btransportiert\b",
    r"\bnicht\b",
    # es
    r"\ben (transito|camino|ruta)\b",
    r"\bhacia\b",
    r"\b(salida|salido|sale) de\b",
    r"\benviado a\b",
    # nl
    r"\bonderweg\b|\bop weg naar\b|\bvertrokken\b|\bverzonden naar\b|\bniet\b",
    # it
    r"\bin (transito|viaggio|partenza)\b",
    r"\bpartit[oa]\b|\binoltrat[oa]\b|\bdirett[oa] (a|al|alla|verso)\b|\bverso\b",
    # pt
    r"\bencaminhad[oa]\b",
    r"\bem transito\b",
    r"\bsaiu (de|da|do)\b",
    r"\bnao\b",
    # it/fr negation
    r"\bnon\b",
)


def _fold(text: str) -> str:
    """Lower-case ASCII: carriers write "arrivé", "Arrive", "ARRIVÉ" for the same event."""
    folded = text.casefold()
    if folded.isascii():
        return folded
    # NFKD splits "é" into "e" + a combining accent that the ASCII encoding then drops; the
    # typographic apostrophe (U+2019, La Poste: "d'expédition") is kept as a plain one first.
    decomposed = unicodedata.normalize("NFKD", folded.replace("\u2019", "'"))
    return decomposed.encode("ascii", "ignore").decode("ascii")


# ---- place ---------------------------------------------------------------------------------

_POSTAL_NOISE = str.maketrans("", "", " -.\u00a0\t")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
# UK-format postcodes: the Crown dependencies use the Royal Mail scheme.
_UK_POSTCODES = frozenset({"GB", "UK", "GG", "JE", "IM"})
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_SAINTS = {"saint": "st", "sainte": "ste", "san": "s", "sankt": "st"}


def _postal_keys(code: str, country: str | None) -> tuple[str, str]:
    """(the code's delivery-area key, a coarse region key) for a normalised code.

    The area key is what two addresses served from one delivery facility share:
    - US: the 5-digit ZIP (a ZIP+4 only names a block face inside it);
    - GB: the outward code ("SW1A" of "SW1A 1AA"): one district, served by one delivery
      office; a code of at most 4 characters is taken to be an outward code already;
    - NL: the 4 digits ("1012" of "1012 AB"): one neighbourhood of one town;
    - elsewhere: the whole code. Shorter prefixes are not safe: FR 7500x and 7501x are both
      Paris but 01000/01090 are different towns, and DE 4-digit prefixes span towns too.
    The region key is only used to veto a city-name match between namesakes (Springfield IL
    and MO, Saint-Denis 93 and 974): the first 3 ZIP digits (a USPS sectional centre), the
    UK postcode area letters, otherwise the first 2 characters (a French département, a
    German Leitregion...).
    """
    if country == "US" or (country is None and code.isdigit() and len(code) in (5, 9)):
        return code[:5], code[:3]
    if country in _UK_POSTCODES:
        outward = code[:-3] if len(code) >= 5 else code
        area_length = len(outward) - len(outward.lstrip(_LETTERS))
        return outward, outward[:area_length]
    if country == "NL" and len(code) >= 4 and code[:4].isdigit():
        return code[:4], code[:2]
    return code, code[:2]


@lru_cache(maxsize=4096)
def _city_key(city: str) -> str:
    """Case-, accent- and punctuation-insensitive; "Saint"/"St" (and kin) alike."""
    words = _NON_ALNUM.sub(" ", _fold(city)).split()
    return " ".join(_SAINTS.get(word, word) for word in words)


def _same_place(scan: Place, destination: Place) -> bool:
    scan_country = scan.country.strip().upper() if scan.country else None
    dest_country = destination.country.strip().upper() if destination.country else None
    if scan_country and dest_country and scan_country != dest_country:
        # Paris FR is not Paris TX, and 10115 means different towns in DE and in the US.
        return False
    country = scan_country or dest_country

    scan_code = scan.postal_code.translate(_POSTAL_NOISE).upper() if scan.postal_code else ""
    dest_code = (
        destination.postal_code.translate(_POSTAL_NOISE).upper() if destination.postal_code else ""
    )
    same_region = True
    if scan_code and dest_code:
        scan_area, scan_region = _postal_keys(scan_code, country)
        dest_area, dest_region = _postal_keys(dest_code, country)
        if scan_area == dest_area:
            return True
        same_region = scan_region == dest_region

    # A town with several postal codes (Fairfax VA 22031/22032) matches by name; namesakes in
    # one country are told apart by the region key when both codes are known.
    if same_region and scan.city and destination.city:
        scan_city = _city_key(scan.city)
        return bool(scan_city) and scan_city == _city_key(destination.city)
    return False


# ---- public --------------------------------------------------------------------------------


def reached_destination(
    description: str | None, scan: Place | None = None, destination: Place | None = None
) -> bool:
    """True when the scan says, or shows by its place, that the parcel is at the facility that
    delivers it.

    False for out-for-delivery, delivered, pick-up, attempt and return scans (other
    milestones), and for an empty description without a place match. A place match needs
    both places and is refused for pre-transit records (see the module docstring).
    """
    if description:
        other_milestone, pre_transit, says_arrived = _read(description)
        if other_milestone:
            return False
        if says_arrived:
            return True
    else:
        pre_transit = False
    return (
        scan is not None
        and destination is not None
        and not pre_transit
        and _same_place(scan, destination)
    )


@lru_cache(maxsize=8192)
def _read(description: str) -> tuple[bool, bool, bool]:
    """(other milestone, pre-transit, names the destination facility) for one text.

    Cached because a sweep sees the same few hundred carrier texts thousands of times; the
    bound keeps texts with dates or town names in them from growing it without limit.
    """
    text = _fold(description)
    if _OTHER_MILESTONE.search(text):
        return True, False, False
    says_arrived = bool(_AT_DESTINATION.search(text)) and not _NOT_THERE.search(text)
    return False, bool(_PRE_TRANSIT.search(text)), says_arrived


def place_from(mapping: Mapping[str, object] | None) -> Place | None:
    """A Place from a stored JSON object: a scan location ({"city", "region", "postal_code",
    "country", "facility"}) or an order's shipping address (`Address`: "city",
    "postal_code", "country", ...). None when it has none of the three.

    Stored JSON is data: a non-string or blank value counts as absent rather than raising,
    so one odd row cannot stop a sweep.
    """
    if not mapping:
        return None

    def text(key: str) -> str | None:
        value = mapping.get(key)
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return None

    city, postal_code, country = text("city"), text("postal_code"), text("country")
    if city is None and postal_code is None and country is None:
        return None
    return Place(city=city, postal_code=postal_code, country=country)
