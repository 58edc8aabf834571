//! Recall impact over a generated plant: every finished serial downstream of a suspect,
//! with its path, bounded, pinned and checked.

use super::*;

/// What the plant says is finished downstream of some parts: the assemblies they went
/// into (with the part of the rework loop, which is finished with its assembly), or the
/// parts themselves when they went into nothing (scrapped, left over).
fn finished_from(plant: &Plant, parts: impl IntoIterator<Item = usize>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for p in parts {
        let into = plant.assemblies_of(p);
        if into.is_empty() {
            out.insert(part(p));
        }
        for a in into {
            out.insert(assembly(a));
            if let Some((ra, rp)) = plant.truth.rework {
                if ra == a {
                    out.insert(part(rp));
                }
            }
        }
    }
    out
}

async fn recall(s: &TestServer, body: Value) -> Value {
    let (status, v) = s
        .post_raw("/v1/thread/recall-impact", &s.auditor, body.to_string())
        .await;
    assert_eq!(status, 200, "{body}: {v}");
    v
}

fn results(v: &Value) -> BTreeSet<String> {
    ids(v, "finished")
}

/// Each result's path runs from its suspect to it, edge to edge.
fn check_paths(v: &Value) {
    for r in v["finished"].as_array().unwrap() {
        let path = r["path"].as_array().unwrap();
        let mut at = r["suspect"].as_str().unwrap();
        for e in path {
            assert_eq!(e["from"].as_str().unwrap(), at, "{r}");
            at = e["to"].as_str().unwrap();
        }
        assert_eq!(at, r["node"].as_str().unwrap(), "{r}");
        let corrected = path.iter().any(|e| e.get("corrected_by").is_some());
        assert_eq!(r["via_corrected"].as_bool().unwrap(), corrected, "{r}");
    }
}

both!(recall_impact_finds_every_finished_serial_downstream);
async fn recall_impact_finds_every_finished_serial_downstream(s: TestServer) {
    let plant = Plant::generate(PlantSpec::small());
    let sizes = post_plant(&s, &plant).await;
    let t = &plant.truth;

    // A bad filament lot: every assembly made with its parts, and its parts that went
    // into nothing; per work order and customer.
    let l = 1;
    let v = recall(&s, json!({"suspects": [{"node": lot(l)}]})).await;
    assert_eq!(v["checkpoint"]["tree_size"], sizes[2]);
    let want = finished_from(&plant, parts_recorded_from(&plant, l));
    assert_eq!(results(&v), want);
    assert_eq!(v["counts"]["finished"], want.len());
    assert_eq!(v["truncated"], false);
    check_paths(&v);
    check_tallies(&v, t, &want);
    check_a_shipped_result(&v, t);

    corrected_records_are_marked(&s, &plant, &v, l).await;
    equipment_and_firmware(&s, &plant).await;
    serials_and_several_suspects(&s, &plant).await;
    s.stop().await;
}

/// The recall of `want` counted per work order and per customer, as the plant says.
fn check_tallies(v: &Value, t: &Truth, want: &BTreeSet<String>) {
    let mut per_order: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_customer: BTreeMap<String, usize> = BTreeMap::new();
    for n in want {
        let (wo, shipped) = match n.strip_prefix("serial:ASM-") {
            Some(a) => {
                let a: usize = a.parse().unwrap();
                (t.assembly_work_order[a].clone(), t.shipped[a].clone())
            }
            None => {
                let p: usize = n["serial:PRT-".len()..].parse().unwrap();
                (t.part_work_order[p].clone(), None)
            }
        };
        *per_order.entry(wo).or_default() += 1;
        if let Some((c, _)) = shipped {
            *per_customer.entry(c).or_default() += 1;
        }
    }
    let got: BTreeMap<String, usize> = v["work_orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["work_order"].as_str().unwrap().to_string(),
                w["finished"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    assert_eq!(got, per_order);
    let got: BTreeMap<String, usize> = v["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["customer"].as_str().unwrap().to_string(),
                c["finished"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    assert_eq!(got, per_customer);
}

/// A shipped result names its customer and order, and the entry that says so.
fn check_a_shipped_result(v: &Value, t: &Truth) {
    let shipped = v["finished"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| !r["customers"].as_array().unwrap().is_empty())
        .unwrap();
    let a: usize = shipped["node"].as_str().unwrap()["serial:ASM-".len()..]
        .parse()
        .unwrap();
    let (c, order) = t.shipped[a].clone().unwrap();
    assert_eq!(
        shipped["customers"],
        json!([{"customer": c, "order": order, "entry": t.ship_event[a]}])
    );
}

/// Results of lot `l` reached only through a record a later entry corrected are marked,
/// and the lot the correction names reaches them unmarked.
async fn corrected_records_are_marked(s: &TestServer, plant: &Plant, v: &Value, l: usize) {
    let t = &plant.truth;
    let wrong: Vec<usize> = t
        .spool_errors
        .iter()
        .filter(|e| e.1 == l)
        .map(|e| e.0)
        .collect();
    let clean: Vec<usize> = (0..t.part_spool.len())
        .filter(|p| t.part_spool[*p].0 == l)
        .collect();
    let only_corrected: BTreeSet<String> = finished_from(plant, wrong.clone())
        .difference(&finished_from(plant, clean))
        .cloned()
        .collect();
    assert!(!only_corrected.is_empty());
    let flagged: BTreeSet<String> = v["finished"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["via_corrected"] == true)
        .map(|r| r["node"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(flagged, only_corrected);
    assert_eq!(v["counts"]["via_corrected"], only_corrected.len());
    // The lot the correction names reaches the same parts without a corrected edge.
    let v = recall(s, json!({"suspects": [{"node": lot(l + 1)}]})).await;
    for n in &only_corrected {
        let r = v["finished"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["node"] == n.as_str())
            .unwrap_or_else(|| panic!("{n} missing from the recall of lot {}", l + 1));
        assert_eq!(r["via_corrected"], false, "{r}");
    }
}

/// A printer during a time window, a firmware image, and the tester's firmware.
async fn equipment_and_firmware(s: &TestServer, plant: &Plant) {
    let t = &plant.truth;
    // A printer during a time window: only what it printed then.
    let (i, from, until) = (2, 40, 120);
    let v = recall(
        s,
        json!({"suspects": [{"node": printer(i), "from": t.part_time[from], "until": t.part_time[until]}]}),
    )
    .await;
    let printed = (from..until).filter(|p| t.part_printer[*p] == i);
    let want = finished_from(plant, printed);
    assert!(want.len() > 5, "{want:?}");
    assert_eq!(results(&v), want);
    check_paths(&v);
    for r in v["finished"].as_array().unwrap() {
        assert_eq!(r["path"][0]["kind"], "equipment");
    }

    // A firmware image: everything printed under it.
    let v = recall(s, json!({"suspects": [{"node": firmware(0)}]})).await;
    let under = (0..t.part_firmware.len()).filter(|p| t.part_firmware[*p] == 0);
    let want = finished_from(plant, under);
    assert!(want.len() > 30, "{want:?}");
    assert_eq!(results(&v), want);
    // The tester's firmware reached every assembly.
    let v = recall(s, json!({"suspects": [{"node": TESTER_FIRMWARE}]})).await;
    let all: BTreeSet<String> = (0..t.assembly_parts.len())
        .map(assembly)
        .chain(t.rework.map(|(_, p)| part(p)))
        .collect();
    assert_eq!(results(&v), all);
}

/// A serial, a finished serial, and several suspects at once.
async fn serials_and_several_suspects(s: &TestServer, plant: &Plant) {
    let t = &plant.truth;
    // A serial: the assembly it went into, by the assembly's own entry.
    let a = 4;
    let p = t.assembly_parts[a][1];
    let v = recall(s, json!({"suspects": [{"node": part(p)}]})).await;
    assert_eq!(results(&v), set([assembly(a)]));
    assert_eq!(v["finished"][0]["path"][0]["entry"], t.assembly_event[a]);
    // A finished serial implicates itself, with an empty path.
    let v = recall(s, json!({"suspects": [{"node": assembly(a)}]})).await;
    assert_eq!(results(&v), set([assembly(a)]));
    assert_eq!(v["finished"][0]["path"], json!([]));
    // Several suspects: the union.
    let v = recall(s, json!({"suspects": [{"node": lot(0)}, {"node": lot(1)}]})).await;
    let mut want = finished_from(plant, parts_recorded_from(plant, 0));
    want.extend(finished_from(plant, parts_recorded_from(plant, 1)));
    assert_eq!(results(&v), want);
}

both!(recall_impact_is_bounded_pinned_and_checked);
async fn recall_impact_is_bounded_pinned_and_checked(s: TestServer) {
    let plant = Plant::generate(PlantSpec::small());
    let sizes = post_plant(&s, &plant).await;

    // At the checkpoint before shipping nothing had reached a customer.
    let v = recall(
        &s,
        json!({"suspects": [{"node": lot(0)}], "tree_size": sizes[1]}),
    )
    .await;
    assert_eq!(v["checkpoint"]["tree_size"], sizes[1]);
    assert_eq!(v["customers"], json!([]));
    assert!(v["counts"]["finished"].as_u64().unwrap() > 0);

    // Bounds: depth, and how many results are listed (the counts cover all).
    let v = recall(&s, json!({"suspects": [{"node": lot(0)}], "depth": 1})).await;
    assert_eq!(v["truncated"], true);
    assert_eq!(v["truncation"], json!(["depth limit of 1 reached"]));
    assert_eq!(v["counts"]["finished"], 0);
    // A spool during a window it was not used in implicates nothing, itself included.
    let v = recall(
        &s,
        json!({"suspects": [{"node": spool(0, 0), "from": time(0), "until": time(1)}]}),
    )
    .await;
    assert_eq!(v["counts"]["finished"], 0, "{v}");
    let v = recall(&s, json!({"suspects": [{"node": lot(0)}], "limit": 2})).await;
    assert_eq!(v["listed"], 2);
    assert_eq!(v["finished"].as_array().unwrap().len(), 2);
    let total = v["counts"]["finished"].as_u64().unwrap();
    assert!(total > 2);
    assert_eq!(
        v["truncation"],
        json!([format!("2 of {total} finished results listed (limit)")])
    );

    for (body, needle) in [
        (json!({"suspects": []}), "1 to 100"),
        (
            json!({"suspects": [{"node": "batch:7"}]}),
            "suspects[0].node",
        ),
        (
            json!({"suspects": [{"node": printer(0), "from": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"}]}),
            "before until",
        ),
        (
            json!({"suspects": [{"node": printer(0), "from": "yesterday"}]}),
            "suspects[0].from",
        ),
        (json!({"suspects": [{"node": lot(0)}], "depth": 0}), "depth"),
        (
            json!({"suspects": [{"node": lot(0)}], "colour": 1}),
            "unknown field",
        ),
        (json!({"suspect": lot(0)}), "expected"),
    ] {
        let (status, v) = s
            .post_raw("/v1/thread/recall-impact", &s.auditor, body.to_string())
            .await;
        assert_eq!(status, 400, "{body}: {v}");
        assert!(
            v["message"].as_str().unwrap().contains(needle),
            "{body}: {v}"
        );
    }
    let body = json!({"suspects": [{"node": lot(0)}]}).to_string();
    let (status, _) = s
        .post_raw("/v1/thread/recall-impact", &s.producer, body.clone())
        .await;
    assert_eq!(status, 403);
    let r = s
        .client
        .post(format!("{}/v1/thread/recall-impact", s.url))
        .bearer_auth(&s.auditor)
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    s.stop().await;
}
