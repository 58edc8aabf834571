//! The control catalogs: NIST SP 800-171 rev. 2 and rev. 3 requirements and families, the
//! SPRS values of the DoD methodology, and framework names.

use super::*;

fn per_family(f: Framework) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in &catalog(f).requirements {
        *m.entry(r.family.clone()).or_default() += 1;
    }
    m
}

#[test]
fn rev2_has_110_requirements_in_14_families_with_their_objectives() {
    let c = catalog(Framework::Rev2);
    assert_eq!(c.requirements.len(), 110);
    assert_eq!(c.families.len(), 14);
    // Requirements per family as published in SP 800-171 Rev. 2 (AC, AT, AU, CM, IA,
    // IR, MA, MP, PS, PE, RA, CA, SC, SI).
    let expected: BTreeMap<String, usize> = [
        ("3.1", 22),
        ("3.2", 3),
        ("3.3", 9),
        ("3.4", 9),
        ("3.5", 11),
        ("3.6", 3),
        ("3.7", 6),
        ("3.8", 9),
        ("3.9", 2),
        ("3.10", 6),
        ("3.11", 3),
        ("3.12", 4),
        ("3.13", 16),
        ("3.14", 7),
    ]
    .into_iter()
    .map(|(f, n)| (f.to_string(), n))
    .collect();
    assert_eq!(per_family(Framework::Rev2), expected);
    // SP 800-171A: 320 objectives, every requirement has some, ids are trimmed.
    let objectives: usize = c.requirements.iter().map(|r| r.objectives.len()).sum();
    assert_eq!(objectives, 320);
    assert!(c.requirements.iter().all(|r| !r.objectives.is_empty()));
    let r = c
        .requirement("3.2.1")
        .expect("the id with spaces in the source is trimmed");
    assert_eq!(r.family, "3.2");
    let ids: Vec<&str> = c
        .requirement("3.1.1")
        .unwrap()
        .objectives
        .iter()
        .map(|o| o.id.as_str())
        .collect();
    assert_eq!(
        ids,
        ["3.1.1[a]", "3.1.1[b]", "3.1.1[c]", "3.1.1[d]", "3.1.1[e]", "3.1.1[f]"]
    );
    assert_eq!(c.objective("3.5.3[d]").unwrap().0.id, "3.5.3");
}

#[test]
fn rev3_has_97_requirements_in_17_families_without_withdrawn_ones() {
    let c = catalog(Framework::Rev3);
    assert_eq!(c.requirements.len(), 97);
    assert_eq!(c.families.len(), 17);
    let fams = per_family(Framework::Rev3);
    assert_eq!(fams.len(), 17, "every family has requirements");
    assert_eq!(c.families.first().unwrap().id, "03.01");
    assert_eq!(c.families.last().unwrap().id, "03.17");
    // 03.01.13 is withdrawn in the catalog (incorporated into another requirement).
    assert!(c.requirement("03.01.13").is_none());
    assert!(c.requirement("03.01.12").is_some());
    let screening = c.requirement("03.09.01").unwrap();
    assert_eq!(screening.title, "Personnel Screening");
    assert_eq!(
        screening
            .objectives
            .iter()
            .map(|o| o.id.as_str())
            .collect::<Vec<_>>(),
        ["A.03.09.01.a", "A.03.09.01.b"]
    );
    assert_eq!(screening.parameters, ["A.03.09.01.ODP.01"]);
    assert!(c.requirements.iter().all(|r| !r.objectives.is_empty()));
}

#[test]
fn sprs_values_cover_rev2_and_span_110_to_minus_203() {
    let weights = sprs::weights();
    assert_eq!(weights.len(), 110);
    let rev2 = catalog(Framework::Rev2);
    for w in weights {
        assert!(
            rev2.requirement(&w.requirement).is_some(),
            "{}",
            w.requirement
        );
        if let Points::Value(p) = w.points {
            assert!([1, 3, 5].contains(&p), "{}: {p}", w.requirement);
        }
    }
    assert_eq!(sprs::MAX_SCORE, 110);
    assert_eq!(sprs::min_score(), -203);
    assert_eq!(sprs::weight("3.12.4").unwrap().points, Points::NotScored);
    let partial: Vec<(&str, u8)> = weights
        .iter()
        .filter_map(|w| w.partial.map(|p| (w.requirement.as_str(), p)))
        .collect();
    assert_eq!(partial, [("3.5.3", 3), ("3.13.11", 3)]);
    assert_eq!(sprs::weight("3.5.3").unwrap().points, Points::Value(5));
}

/// DoD Assessment Methodology v1.2.1 (June 24, 2020), Annex A: the points each Rev. 2
/// requirement not met subtracts from 110, in the methodology's order, typed in from the
/// methodology itself rather than read from `controls/sprs-weights-rev2.csv`, so a value
/// changed or two values swapped in the data fail here. `None`: 3.12.4, no score at all.
#[rustfmt::skip]
const DOD_ANNEX_A: [(&str, Option<u8>); 110] = [
    ("3.1.1", Some(5)), ("3.1.2", Some(5)), ("3.1.3", Some(1)), ("3.1.4", Some(1)),
    ("3.1.5", Some(3)), ("3.1.6", Some(1)), ("3.1.7", Some(1)), ("3.1.8", Some(1)),
    ("3.1.9", Some(1)), ("3.1.10", Some(1)), ("3.1.11", Some(1)), ("3.1.12", Some(5)),
    ("3.1.13", Some(5)), ("3.1.14", Some(1)), ("3.1.15", Some(1)), ("3.1.16", Some(5)),
    ("3.1.17", Some(5)), ("3.1.18", Some(5)), ("3.1.19", Some(3)), ("3.1.20", Some(1)),
    ("3.1.21", Some(1)), ("3.1.22", Some(1)),
    ("3.2.1", Some(5)), ("3.2.2", Some(5)), ("3.2.3", Some(1)),
    ("3.3.1", Some(5)), ("3.3.2", Some(3)), ("3.3.3", Some(1)), ("3.3.4", Some(1)),
    ("3.3.5", Some(5)), ("3.3.6", Some(1)), ("3.3.7", Some(1)), ("3.3.8", Some(1)),
    ("3.3.9", Some(1)),
    ("3.4.1", Some(5)), ("3.4.2", Some(5)), ("3.4.3", Some(1)), ("3.4.4", Some(1)),
    ("3.4.5", Some(5)), ("3.4.6", Some(5)), ("3.4.7", Some(5)), ("3.4.8", Some(5)),
    ("3.4.9", Some(1)),
    ("3.5.1", Some(5)), ("3.5.2", Some(5)), ("3.5.3", Some(5)), ("3.5.4", Some(1)),
    ("3.5.5", Some(1)), ("3.5.6", Some(1)), ("3.5.7", Some(1)), ("3.5.8", Some(1)),
    ("3.5.9", Some(1)), ("3.5.10", Some(5)), ("3.5.11", Some(1)),
    ("3.6.1", Some(5)), ("3.6.2", Some(5)), ("3.6.3", Some(1)),
    ("3.7.1", Some(3)), ("3.7.2", Some(5)), ("3.7.3", Some(1)), ("3.7.4", Some(3)),
    ("3.7.5", Some(5)), ("3.7.6", Some(1)),
    ("3.8.1", Some(3)), ("3.8.2", Some(3)), ("3.8.3", Some(5)), ("3.8.4", Some(1)),
    ("3.8.5", Some(1)), ("3.8.6", Some(1)), ("3.8.7", Some(5)), ("3.8.8", Some(3)),
    ("3.8.9", Some(1)),
    ("3.9.1", Some(3)), ("3.9.2", Some(5)),
    ("3.10.1", Some(5)), ("3.10.2", Some(5)), ("3.10.3", Some(1)), ("3.10.4", Some(1)),
    ("3.10.5", Some(1)), ("3.10.6", Some(1)),
    ("3.11.1", Some(3)), ("3.11.2", Some(5)), ("3.11.3", Some(1)),
    ("3.12.1", Some(5)), ("3.12.2", Some(3)), ("3.12.3", Some(5)), ("3.12.4", None),
    ("3.13.1", Some(5)), ("3.13.2", Some(5)), ("3.13.3", Some(1)), ("3.13.4", Some(1)),
    ("3.13.5", Some(5)), ("3.13.6", Some(5)), ("3.13.7", Some(1)), ("3.13.8", Some(3)),
    ("3.13.9", Some(1)), ("3.13.10", Some(1)), ("3.13.11", Some(5)), ("3.13.12", Some(1)),
    ("3.13.13", Some(1)), ("3.13.14", Some(1)), ("3.13.15", Some(5)), ("3.13.16", Some(1)),
    ("3.14.1", Some(5)), ("3.14.2", Some(5)), ("3.14.3", Some(5)), ("3.14.4", Some(5)),
    ("3.14.5", Some(3)), ("3.14.6", Some(5)), ("3.14.7", Some(3)),
];

#[test]
fn sprs_values_are_the_dod_methodology_table() {
    let ours: Vec<(&str, Option<u8>)> = sprs::weights()
        .iter()
        .map(|w| {
            let points = match w.points {
                Points::Value(p) => Some(p),
                Points::NotScored => None,
            };
            (w.requirement.as_str(), points)
        })
        .collect();
    for (theirs, ours) in DOD_ANNEX_A.iter().zip(&ours) {
        assert_eq!(theirs, ours, "requirement {}", theirs.0);
    }
    assert_eq!(ours.len(), DOD_ANNEX_A.len());
    let sum: i32 = DOD_ANNEX_A
        .iter()
        .filter_map(|(_, p)| p.map(i32::from))
        .sum();
    assert_eq!(sprs::MAX_SCORE - sum, -203);
    assert_eq!(sprs::min_score(), -203);
}

#[test]
fn frameworks_are_named_as_results_name_them() {
    for f in Framework::ALL {
        assert_eq!(f.as_str().parse::<Framework>(), Ok(f));
    }
    assert_eq!(
        "nist-800-53".parse::<Framework>(),
        Err("unknown framework \"nist-800-53\"; use nist-800-171r2 or nist-800-171r3".into())
    );
}
