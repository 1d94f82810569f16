"""The rule functions for the oncology rows 1-27 of shared/domain/oncology.md (b) and (c);
rows 22-24 (with G4 and G5) and 26 are asked of every client."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from clinic.intake.answers import (
    ClotStatus,
    DeviceKind,
    Fatigue,
    NodeRegion,
    Oncology,
    Organ,
    Phase,
    Region,
)
from clinic.intake.plan import (
    CONTACT,
    CONTACT_PROMPTLY,
    Action,
    Clearance,
    Finding,
    Position,
    Rule,
    each,
)
from clinic.intake.rules import Context

_NODE_AREAS: dict[NodeRegion, tuple[Region, ...]] = {
    NodeRegion.LEFT_AXILLA: (Region.LEFT_UPPER_TRUNK, Region.LEFT_ARM, Region.LEFT_HAND),
    NodeRegion.RIGHT_AXILLA: (Region.RIGHT_UPPER_TRUNK, Region.RIGHT_ARM, Region.RIGHT_HAND),
    NodeRegion.LEFT_GROIN: (Region.LEFT_LOWER_TRUNK, Region.LEFT_LEG, Region.LEFT_FOOT),
    NodeRegion.RIGHT_GROIN: (Region.RIGHT_LOWER_TRUNK, Region.RIGHT_LEG, Region.RIGHT_FOOT),
    NodeRegion.NECK: (Region.HEAD, Region.NECK),
    NodeRegion.PELVIS: (
        Region.LEFT_LOWER_TRUNK,
        Region.RIGHT_LOWER_TRUNK,
        Region.LEFT_LEG,
        Region.RIGHT_LEG,
        Region.LEFT_FOOT,
        Region.RIGHT_FOOT,
    ),
}
_FRONT_OF_TRUNK = frozenset(
    {
        Region.CHEST,
        Region.ABDOMEN,
        Region.LEFT_UPPER_TRUNK,
        Region.RIGHT_UPPER_TRUNK,
        Region.LEFT_LOWER_TRUNK,
        Region.RIGHT_LOWER_TRUNK,
    }
)
_LEGS = (Region.LEFT_LEG, Region.RIGHT_LEG, Region.LEFT_FOOT, Region.RIGHT_FOOT)


def _months_before(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    for last in (day.day, 30, 29, 28):
        try:
            return date(year, month + 1, last)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


# Row 1: cancer history routes to oncology-trained therapists; hospital model needs an order.
def _history(o: Oncology, c: Context) -> list[Finding]:
    hospital = c.rules.hospital_model_requires_clearance
    return [
        Finding(
            "row 1",
            "cancer history",
            level=1,
            notes=("Oncology path: only an oncology-trained therapist (level 1 or above).",),
            clearance=Clearance.REQUIRED if hospital else Clearance.NONE,
            action=Action.HOLD if hospital else Action.ALLOW_FLAG,
        )
    ]


# Row 2: tumor and enlarged-node sites; unknown location caps pressure overall.
def _tumors(o: Oncology, c: Context) -> list[Finding]:
    t = o.tumors
    if t is None:
        return []
    if not t.location_known:
        return [
            Finding(
                "row 2",
                "location of disease unknown",
                pressure=c.rules.unknown_disease_site_max_pressure,
                notes=("Disease location unknown: keep joint movement well within range.",),
                clearance=Clearance.ADVISED,
            )
        ]
    note = "No pressure or joint movement that disturbs tumor sites or enlarged nodes."
    return [Finding("row 2", "known tumor sites", sites=each(t.sites, Rule.AVOID), notes=(note,))]


# Row 3: treatment phase sets defaults; gentler and shorter in active treatment.
def _phase(o: Oncology, c: Context) -> list[Finding]:
    note = "Re-ask the treatment phase at each visit."
    if o.phase is None:
        return []
    if o.phase is Phase.IN_TREATMENT:
        pressure: int | None = c.rules.lighter_pressure
    elif o.phase in (Phase.PALLIATIVE, Phase.END_OF_LIFE):
        pressure = c.rules.gentle_pressure
    else:
        return [Finding("row 3", f"phase: {o.phase.value.replace('_', ' ')}", notes=(note,))]
    return [
        Finding(
            "row 3",
            f"phase: {o.phase.value.replace('_', ' ')}",
            pressure=pressure,
            session_cap=c.rules.shorter_session_minutes,
            notes=(note,),
            level=2 if o.phase is Phase.END_OF_LIFE else None,
        )
    ]


# Row 4: spread to bone; limits per physician, P<=1 if the sites are unknown.
def _bone_mets(o: Oncology, c: Context) -> list[Finding]:
    b = o.bone_mets
    if b is None:
        return []
    required = c.rules.bone_mets_clearance_required
    return [
        Finding(
            "row 4",
            "spread to bone" + ("" if b.sites_known else " (sites unknown)"),
            pressure=None if b.sites_known else c.rules.unknown_bone_sites_max_pressure,
            sites=each(b.sites, Rule.AVOID),
            positions=(Position.WELL_SUPPORTED,),
            notes=("Pressure and joint movement limits come from the physician's clearance.",),
            level=2,
            clearance=Clearance.REQUIRED if required else Clearance.ADVISED,
            action=Action.HOLD,
        )
    ]


# Row 5: organ spread or breathlessness; lighter, shorter, head raised for the lungs.
def _organ_spread(o: Oncology, c: Context) -> list[Finding]:
    s = o.organ_spread
    if s is None or not (s.organs or s.breathless):
        return []
    lungs = s.breathless or Organ.LUNG in s.organs
    return [
        Finding(
            "row 5",
            "spread to organs or breathlessness",
            pressure=c.rules.lighter_pressure,
            session_cap=c.rules.shorter_session_minutes,
            positions=(Position.NO_PRONE, Position.HEAD_RAISED) if lungs else (),
            clearance=Clearance.ADVISED,
        )
    ]


# Row 6: surgery; avoid unhealed incisions and drains, no deep work for the first weeks.
def _surgery(o: Oncology, c: Context) -> list[Finding]:
    found = []
    for s in o.surgeries:
        recent = c.today - s.on < timedelta(weeks=c.rules.surgery_hold_weeks)
        unhealed = not s.incision_healed or s.drains
        if not (recent or unhealed or s.complications):
            continue
        found.append(
            Finding(
                "row 6",
                f"surgery on {s.on.isoformat()} ({s.site.value.replace('_', ' ')})",
                sites=((s.site, Rule.AVOID if unhealed else Rule.GENTLE_ONLY),),
                positions=(Position.NO_PRONE, Position.SIDE_LYING) if unhealed else (),
                clearance=Clearance.ADVISED,
                action=Action.HOLD if recent else Action.ALLOW_FLAG,
            )
        )
    return found


# Row 7: nodes removed or radiated; the area they drain is at risk for life.
def _nodes(o: Oncology, c: Context) -> list[Finding]:
    if not o.nodes:
        return []
    areas = [r for node in o.nodes for r in _NODE_AREAS[node]]
    return [
        Finding(
            "row 7",
            "lymph nodes removed or radiated: " + ", ".join(n.value for n in o.nodes),
            sites=each(areas, Rule.GENTLE_ONLY) + each(areas, Rule.NO_HEAT),
            notes=(
                "At-risk areas: no deep work, friction or overstretch; strokes toward working"
                " nodes; less time there.",
            ),
        )
    ]


# Row 8: lymphedema; a lymphedema therapist for areas to be treated, stop on sudden change.
def _lymphedema(o: Oncology, c: Context) -> list[Finding]:
    lym = o.lymphedema
    if lym is None:
        return []
    treated = [a for a in lym.areas if a not in c.answers.preferences.areas_excluded]
    sudden = lym.sudden_change
    return [
        Finding(
            "row 8",
            "lymphedema" + (" with sudden new or worse swelling" if sudden else ""),
            sites=each(lym.areas, Rule.AVOID if sudden else Rule.GENTLE_ONLY),
            notes=("Lymphedema areas only by a lymphedema (MLD/CDT) therapist.",),
            lymphedema=bool(treated),
            clearance=Clearance.ADVISED,
            action=Action.DEFER if sudden else Action.ALLOW_FLAG,
            message=CONTACT_PROMPTLY if sudden else None,
        )
    ]


# Row 9: current chemotherapy; gentle, and re-ask side effects each visit.
def _chemotherapy(o: Oncology, c: Context) -> list[Finding]:
    chemo = o.chemotherapy
    if chemo is None:
        return []
    last = chemo.last_infusion.isoformat() if chemo.last_infusion else "not given"
    return [
        Finding(
            "row 9",
            "current chemotherapy",
            pressure=c.rules.gentle_pressure,
            notes=(
                f"Last infusion: {last}. Ask about counts, neuropathy, nausea, fatigue and"
                " port at each visit.",
            ),
        )
    ]


# Row 10: radiation; avoid a reacting field, no lotion or heat on it during and after.
def _radiation(o: Oncology, c: Context) -> list[Finding]:
    found = []
    for r in o.radiation:
        weeks = timedelta(weeks=c.rules.radiation_no_products_weeks)
        current = r.ended_on is None or c.today - r.ended_on <= weeks
        if not (current or r.skin_reaction or r.internal_seeds):
            continue
        sites = each(r.field, Rule.AVOID) if r.skin_reaction else ()
        if current:
            sites += each(r.field, Rule.NO_LOTION) + each(r.field, Rule.NO_HEAT)
        seeds = ("Internal seeds: follow the radiation team's contact limits.",)
        found.append(
            Finding(
                "row 10",
                "radiation" + (" with skin reaction" if r.skin_reaction else ""),
                sites=sites,
                notes=seeds if r.internal_seeds else (),
                clearance=Clearance.ADVISED,
            )
        )
    return found


# Rows 11-12: immunotherapy or targeted therapy; hormone therapy.
def _other_therapy(o: Oncology, c: Context) -> list[Finding]:
    found = []
    if o.immuno_or_targeted:
        note = "Adjust for fatigue, joint pain and stomach symptoms; avoid rashes."
        found.append(
            Finding(
                "row 11",
                "immunotherapy or targeted therapy",
                notes=(note,),
                clearance=Clearance.ADVISED,
            )
        )
    if o.hormone_therapy:
        note = "Hormone therapy: ask about bone fragility, clot risk and joint aches."
        found.append(Finding("row 12", "hormone therapy", notes=(note,)))
    return found


# Row 13: stem-cell or bone-marrow transplant; transplant team clearance.
def _transplant(o: Oncology, c: Context) -> list[Finding]:
    t = o.transplant
    if t is None:
        return []
    return [
        Finding(
            "row 13",
            "stem-cell or bone-marrow transplant",
            pressure=c.rules.gentle_pressure,
            sites=each(t.gvhd_skin, Rule.AVOID),
            notes=("Strict infection control.",),
            level=2,
            clearance=Clearance.REQUIRED
            if c.rules.transplant_clearance_required
            else Clearance.ADVISED,
            action=Action.HOLD,
        )
    ]


# Row 14: devices; nothing on or near them, no prone for a device on the front of the trunk.
def _devices(o: Oncology, c: Context) -> list[Finding]:
    if not o.devices:
        return []
    front = any(d.location in _FRONT_OF_TRUNK for d in o.devices)
    picc = any(d.kind is DeviceKind.PICC for d in o.devices)
    return [
        Finding(
            "row 14",
            "devices: " + ", ".join(d.kind.value.replace("_", " ") for d in o.devices),
            sites=each((d.location for d in o.devices), Rule.AVOID),
            positions=(Position.NO_PRONE, Position.SIDE_LYING) if front else (),
            notes=("Pad around devices.",)
            + (("No vigorous movement of the PICC arm.",) if picc else ()),
        )
    ]


# Rows 15-16: platelets and bleeding; white count and infection precautions.
def _counts(o: Oncology, c: Context) -> list[Finding]:
    found, p, n, r = [], o.platelets, o.neutropenia, c.rules
    if p is not None:
        fresh = p.measured_on is not None and (c.today - p.measured_on).days <= (
            r.platelet_count_valid_days
        )
        count = p.count if fresh else None
        low = count is not None and count < r.platelets_normal_from
        if low or p.low_reported or p.bruising_or_bleeding or p.anticoagulant:
            unknown_in_chemo = (
                count is None
                and o.chemotherapy is not None
                and r.unknown_platelets_in_chemo_required
            )
            held = (count is not None and count < r.platelets_required_below) or unknown_in_chemo
            found.append(
                Finding(
                    "row 15",
                    "bleeding risk"
                    + (" (count unknown during chemotherapy)" if unknown_in_chemo else ""),
                    pressure=r.gentle_pressure,
                    notes=("No deep or vigorous work.",),
                    level=2 if held else None,
                    clearance=Clearance.REQUIRED if held else Clearance.ADVISED,
                    action=Action.HOLD if held else Action.ALLOW_FLAG,
                )
            )
    # A count in the normal range is no finding (neutropenia is ANC < 1,500/µL, S33).
    low_count = n is not None and n.anc is not None and n.anc < r.neutropenia_below
    if n is not None and (n.reported_low or n.infection_precautions or low_count):
        severe = n.infection_precautions or (
            n.anc is not None and n.anc < r.severe_neutropenia_below
        )
        held = severe and r.neutropenia_clearance_required
        found.append(
            Finding(
                "row 16",
                "low white count" + (" (severe or on precautions)" if severe else ""),
                notes=("Therapist must not work while ill; hand hygiene; clean linens.",),
                level=2 if held else None,
                clearance=Clearance.REQUIRED if held else Clearance.NONE,
                action=Action.HOLD if severe else Action.ALLOW_FLAG,
            )
        )
    return found


# Row 17: anemia symptoms; shorter, lighter, slow position changes.
def _anemia(o: Oncology, c: Context) -> list[Finding]:
    if not o.anemia_symptoms:
        return []
    return [
        Finding(
            "row 17",
            "anemia symptoms",
            pressure=c.rules.lighter_pressure,
            session_cap=c.rules.shorter_session_minutes,
            positions=(Position.SLOW_POSITION_CHANGES,),
            notes=("Have the client sit before standing.",),
        )
    ]


# Row 18: blood clot; suspected or untreated defers, recent holds, any clot needs clearance.
def _clot(o: Oncology, c: Context) -> list[Finding]:
    clot = o.clot
    if clot is None:
        return []
    cleared = Clearance.REQUIRED if c.rules.clot_clearance_required else Clearance.ADVISED
    if clot.status in (ClotStatus.SUSPECTED, ClotStatus.UNTREATED):
        return [
            Finding(
                "row 18",
                f"blood clot {clot.status.value}",
                sites=each(_LEGS, Rule.AVOID),
                clearance=cleared,
                action=Action.DEFER,
                message=CONTACT_PROMPTLY,
            )
        ]
    ended = clot.treatment_ended_on
    recent = ended is None or ended > _months_before(c.today, c.rules.clot_recent_months)
    return [
        Finding(
            "row 18",
            "recent blood clot" if recent else "blood clot history",
            sites=each(_LEGS, Rule.AVOID if recent else Rule.GENTLE_ONLY),
            clearance=cleared,
            action=Action.HOLD if recent or cleared is Clearance.REQUIRED else Action.ALLOW_FLAG,
        )
    ]


# Rows 19-21: neuropathy, fragile bones, skin problems.
def _body(o: Oncology, c: Context) -> list[Finding]:
    found = []
    if o.neuropathy:
        note = "Feedback from numb areas is unreliable: check the skin for injury."
        found.append(
            Finding(
                "row 19",
                "neuropathy",
                sites=each(o.neuropathy, Rule.GENTLE_ONLY),
                notes=(note,),
            )
        )
    b = o.bones
    if b is not None and (b.fragile_or_osteoporosis or b.long_term_steroids):
        found.append(
            Finding(
                "row 20",
                "fragile bones",
                pressure=c.rules.gentle_pressure,
                notes=("Limit joint movement and traction.",),
                clearance=Clearance.ADVISED if b.severe else Clearance.NONE,
            )
        )
    if o.skin:
        regions = [r for s in o.skin for r in s.regions]
        found.append(
            Finding(
                "row 21",
                "skin problems: " + ", ".join(s.kind.value.replace("_", " ") for s in o.skin),
                sites=each(regions, Rule.AVOID),
                notes=("No products on broken skin.",),
            )
        )
    return found


# Row 25: pain; avoid painful sites, new unexplained bone or night pain is reviewed first.
def _pain(o: Oncology, c: Context) -> list[Finding]:
    if not o.pain:
        return []
    new = any(p.new_or_unexplained for p in o.pain)
    red_flag = any(p.new_or_unexplained and p.bone_or_night for p in o.pain)
    return [
        Finding(
            "row 25",
            "new or unexplained pain" if new else "pain",
            sites=each((p.region for p in o.pain), Rule.AVOID),
            clearance=Clearance.ADVISED if new else Clearance.NONE,
            action=Action.HOLD if red_flag else Action.ALLOW_FLAG,
        )
    ]


# Rows 22-24, G4 (contagious skin) and G5: asked about the day of the visit.
def day_of_visit(c: Context) -> list[Finding]:
    d, oncology, found = c.answers.day_of_visit, c.answers.oncology is not None, []
    if not c.in_window:
        return []
    if d.fever_or_chills or d.active_infection:
        neutropenic = (
            oncology
            and c.answers.oncology is not None
            and (c.answers.oncology.neutropenia is not None)
        )
        found.append(
            Finding(
                "row 22" if oncology else "G5",
                "fever, chills or infection today",
                action=Action.DEFER,
                message=CONTACT_PROMPTLY if neutropenic else CONTACT,
            )
        )
    if d.nausea_or_vomiting or d.mouth_sores or d.cough:
        found.append(
            Finding(
                "row 23",
                "nausea, mouth sores or cough",
                positions=(Position.NO_PRONE, Position.SIDE_LYING, Position.MINIMAL_REPOSITIONING),
                notes=("Unscented products; left side-lying or semi-reclined.",),
            )
        )
    if d.fatigue >= Fatigue.MODERATE:
        found.append(
            Finding(
                "row 24",
                "fatigue today",
                pressure=c.rules.lighter_pressure,
                session_cap=c.rules.shorter_session_minutes,
                positions=(Position.MINIMAL_REPOSITIONING,),
            )
        )
    if d.contagious_skin:
        found.append(
            Finding("G4", "contagious skin condition", action=Action.DEFER, message=CONTACT)
        )
    if d.contagious_illness:
        found.append(
            Finding("G5", "flu or contagious illness", action=Action.DEFER, message=CONTACT)
        )
    return found


# Row 26: the client chooses positions and areas; consent to each area.
def preferences(c: Context) -> list[Finding]:
    p = c.answers.preferences
    if not (p.areas_excluded or p.trauma_history):
        return []
    return [
        Finding(
            "row 26",
            "client preferences",
            sites=each(p.areas_excluded, Rule.AVOID),
            notes=("Ask consent for each area; the client chooses positions and areas.",),
            action=Action.ALLOW,
        )
    ]


# Row 27: contact with the oncology team is essential when clearance is required.
def team_contact(o: Oncology, c: Context, clearance: Clearance) -> list[Finding]:
    contact = o.contact
    consented = contact is not None and contact.consent_to_contact and bool(contact.name)
    if consented or clearance is not Clearance.REQUIRED:
        return []
    return [
        Finding(
            "row 27",
            "no consent to contact the oncology team",
            notes=("Clearance cannot be requested without the client's consent to contact.",),
            action=Action.HOLD,
        )
    ]


ONCOLOGY_ROWS: tuple[Callable[[Oncology, Context], list[Finding]], ...] = (
    _history,
    _tumors,
    _phase,
    _bone_mets,
    _organ_spread,
    _surgery,
    _nodes,
    _lymphedema,
    _chemotherapy,
    _radiation,
    _other_therapy,
    _transplant,
    _devices,
    _counts,
    _anemia,
    _clot,
    _body,
    _pain,
)
