"""The rule functions for the general rows G1-G11 of shared/domain/oncology.md (G4 contagious
skin and G5 are asked with the day-of-visit rows, in oncology_rows)."""

from __future__ import annotations

from clinic.intake.answers import Region
from clinic.intake.plan import CONTACT, Action, Clearance, Finding, Rule, each
from clinic.intake.rules import Context

_CONSENT = "We need valid consent before a massage: please contact the clinic."


# G1-G3: pregnancy, recent injury, blood thinners.
def general_1(c: Context) -> list[Finding]:
    g, found = c.answers.general, []
    if g.pregnancy is not None:
        first = g.pregnancy.trimester == 1
        high = g.pregnancy.high_risk
        found.append(
            Finding(
                "G1",
                f"pregnant, trimester {g.pregnancy.trimester}" + (", high risk" if high else ""),
                sites=each((Region.SACRUM, Region.ABDOMEN), Rule.GENTLE_ONLY) if first else (),
                clearance=Clearance.REQUIRED if high else Clearance.NONE,
                action=Action.HOLD if high else Action.ALLOW_FLAG,
            )
        )
    if g.recent_injury:
        found.append(
            Finding(
                "G2",
                "recent injury" + (", unstable fracture" if g.unstable_fracture else ""),
                sites=each(g.recent_injury, Rule.AVOID),
                clearance=Clearance.ADVISED,
            )
        )
    if g.blood_thinners_or_bleeding_disorder:
        note = "No deep or forceful work."
        found.append(
            Finding(
                "G3",
                "blood thinners or bleeding disorder",
                pressure=c.rules.gentle_pressure,
                notes=(note,),
            )
        )
    if g.skin_local:
        found.append(Finding("G4", "local skin problems", sites=each(g.skin_local, Rule.AVOID)))
    return found


# G6-G11: circulation, sensation, inflammation, bones, products and implants, consent.
def general_2(c: Context) -> list[Finding]:
    g, found = c.answers.general, []
    if g.severe_unstable_hypertension:
        found.append(
            Finding(
                "G6",
                "severe unstable blood pressure",
                clearance=Clearance.ADVISED,
                action=Action.DEFER,
                message=CONTACT,
            )
        )
    elif g.failure_with_edema or g.uncontrolled_blood_pressure:
        found.append(
            Finding(
                "G6",
                "heart or kidney failure with edema, or uncontrolled blood pressure",
                clearance=Clearance.ADVISED,
                action=Action.HOLD,
            )
        )
    if g.diabetes or g.reduced_sensation:
        found.append(
            Finding(
                "G7",
                "diabetes or reduced sensation",
                sites=each(g.reduced_sensation, Rule.GENTLE_ONLY),
            )
        )
    if g.inflamed_joints:
        found.append(Finding("G8", "inflammatory flare", sites=each(g.inflamed_joints, Rule.AVOID)))
    if g.osteoporosis_or_bone_drugs:
        found.append(
            Finding("G9", "osteoporosis or bone-weakening drugs", pressure=c.rules.gentle_pressure)
        )
    if g.allergies or g.seizures or g.implants:
        notes: tuple[str, ...] = ()
        if g.allergies:
            notes += ("Choose products without: " + ", ".join(a.value for a in g.allergies) + ".",)
        if g.seizures:
            notes += ("History of seizures.",)
        found.append(
            Finding(
                "G10",
                "allergies, seizures or implants",
                sites=each(g.implants, Rule.AVOID),
                notes=notes,
            )
        )
    if not g.able_to_consent or (g.minor and not g.guardian_consent):
        found.append(Finding("G11", "no valid consent", action=Action.DEFER, message=_CONSENT))
    elif g.minor:
        found.append(
            Finding("G11", "minor with guardian consent", notes=("A guardian consented.",))
        )
    return found
