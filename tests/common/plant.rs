//! A generated additive plant with known answers, for the thread's tests and benchmark:
//! supplier lots → filament lots → spools (sublots) → printed parts on several printers
//! under two firmware images → QC → assemblies (three parts and a fastener lot) →
//! end-of-line test → shipments to customers; a few recording errors fixed by
//! corrections, and a rework loop (an assembly taken apart and rebuilt) that makes a
//! cycle. The truth is kept beside the events, so tests state expected answers from it
//! rather than from the log.

use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct PlantSpec {
    pub filament_lots: usize,
    pub spools_per_lot: usize,
    pub printers: usize,
    pub parts: usize,
    pub parts_per_work_order: usize,
    pub assemblies_per_work_order: usize,
    /// Extra per-part process events (depowder, cure, …), one station each: padding
    /// towards a realistic number of events per serial.
    pub process_steps: usize,
    pub customers: usize,
    /// Record a few errors and their corrections, and the rework loop.
    pub corrections: bool,
}

impl PlantSpec {
    /// About 700 events: small enough for tests over HTTP on both backends.
    pub fn small() -> Self {
        PlantSpec {
            filament_lots: 6,
            spools_per_lot: 4,
            printers: 4,
            parts: 240,
            parts_per_work_order: 20,
            assemblies_per_work_order: 10,
            process_steps: 0,
            customers: 3,
            corrections: true,
        }
    }

    /// About `serials` serials (three parts to one assembly) in about ten events each:
    /// each part is printed, goes through ten process steps and QC.
    pub fn scaled(serials: usize) -> Self {
        let parts = serials * 3 / 4;
        PlantSpec {
            filament_lots: (parts / 600).max(2),
            spools_per_lot: 4,
            printers: 40,
            parts,
            parts_per_work_order: 100,
            assemblies_per_work_order: 50,
            process_steps: 10,
            customers: 200,
            corrections: true,
        }
    }
}

/// What the events say, in plain structures.
#[derive(Debug, Clone, Default)]
pub struct Truth {
    /// Per filament lot: its supplier lot.
    pub supplier_lot: Vec<String>,
    /// Per part: (filament lot, spool) it was printed from, as finally corrected.
    pub part_spool: Vec<(usize, String)>,
    pub part_printer: Vec<usize>,
    /// 0 for firmware A, 1 for firmware B.
    pub part_firmware: Vec<usize>,
    pub part_program: Vec<usize>,
    pub part_work_order: Vec<String>,
    /// Effective time of each part's print, RFC 3339.
    pub part_time: Vec<String>,
    pub part_scrapped: Vec<bool>,
    /// Per assembly: its parts (as finally corrected).
    pub assembly_parts: Vec<Vec<usize>>,
    pub assembly_work_order: Vec<String>,
    pub assembly_fastener_lot: Vec<String>,
    /// Per assembly: (customer id, order) if shipped.
    pub shipped: Vec<Option<(String, String)>>,
    /// Parts whose print first named a wrong spool: (part, wrong lot, wrong spool, event
    /// index of the wrong record, event index of the correction).
    pub spool_errors: Vec<(usize, usize, String, u64, u64)>,
    /// The reworked assembly and the part taken out and put back (the cycle).
    pub rework: Option<(usize, usize)>,
    /// Event index of each part's print event (the original, possibly corrected one).
    pub print_event: Vec<u64>,
    pub assembly_event: Vec<u64>,
    pub ship_event: Vec<Option<u64>>,
}

pub struct Plant {
    pub spec: PlantSpec,
    pub events: Vec<Value>,
    pub truth: Truth,
    /// The number of events in each phase: materials and printing; assembly and test;
    /// shipping, corrections and rework.
    pub phases: [usize; 3],
}

pub fn part(p: usize) -> String {
    format!("serial:PRT-{p:07}")
}

pub fn assembly(a: usize) -> String {
    format!("serial:ASM-{a:06}")
}

pub fn lot(l: usize) -> String {
    format!("lot:FIL-{l:04}")
}

pub fn spool(l: usize, k: usize) -> String {
    format!("sublot:FIL-{l:04}-S{k}")
}

pub fn printer(i: usize) -> String {
    format!("equipment:printer-{i:02}")
}

pub fn firmware(f: usize) -> String {
    format!("sha256:{}", ["f1", "f2"][f].repeat(32))
}

pub fn program(k: usize) -> String {
    format!("sha256:{}", ["a1", "a2"][k].repeat(32))
}

pub const TESTER_FIRMWARE: &str =
    "sha256:7e577e577e577e577e577e577e577e577e577e577e577e577e577e577e577e57";

/// The effective time `minutes` after the plant's start.
pub fn time(minutes: usize) -> String {
    let t = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z").unwrap()
        + chrono::Duration::minutes(minutes as i64);
    t.to_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn id(node: &str) -> &str {
    node.split_once(':').map(|(_, id)| id).unwrap_or(node)
}

struct Builder {
    events: Vec<Value>,
}

impl Builder {
    fn push(&mut self, v: Value) -> u64 {
        self.events.push(v);
        (self.events.len() - 1) as u64
    }
}

fn base(event_id: String, event_type: &str, minutes: usize, unit: &str) -> Value {
    json!({
        "event_id": event_id,
        "event_type": event_type,
        "effective_time": time(minutes),
        "hierarchy_scope": {"site": "plant-1", "area": "additive", "unit": unit},
        "source": "mes.plant-1",
    })
}

impl Plant {
    pub fn generate(spec: PlantSpec) -> Plant {
        let mut b = Builder { events: Vec::new() };
        let mut t = Truth::default();
        let parts_per_lot = spec.parts.div_ceil(spec.filament_lots);
        let per_spool = parts_per_lot.div_ceil(spec.spools_per_lot);

        // Phase 1: receiving, spools, printing, QC, process steps.
        for l in 0..spec.filament_lots {
            let supplier = format!("SUP-{:04}", 9000 + l);
            let mut e = base(format!("recv-{l}"), "material_received", l, "dock");
            e["material"] = json!([{"definition": "PA12-CF", "lot": id(&lot(l)), "use": "produced", "quantity": 10000, "unit": "g"}]);
            e["genealogy"] = json!([{"parent": {"lot": supplier}, "child": {"lot": id(&lot(l))}, "relation": "supplier_lot"}]);
            b.push(e);
            t.supplier_lot.push(format!("lot:{supplier}"));
            for k in 0..spec.spools_per_lot {
                let mut e = base(format!("spool-{l}-{k}"), "spool_labelled", l, "dock");
                e["material"] = json!([{"definition": "PA12-CF", "lot": id(&lot(l)), "sublot": id(&spool(l, k)), "use": "produced"}]);
                b.push(e);
            }
        }
        let start = spec.filament_lots + 10;
        for p in 0..spec.parts {
            let l = p / parts_per_lot;
            let k = (p % parts_per_lot) / per_spool;
            let printer_no = p % spec.printers;
            let fw = usize::from(p >= spec.parts / 2);
            let prog = p % 2;
            let wo = format!("work_order:WO-P{:05}", p / spec.parts_per_work_order);
            let definition = ["bracket-A", "bracket-B"][prog];
            let gcode = ["bracket-A.gcode", "bracket-B.gcode"][prog];
            let fw_name = ["fw-4.1", "fw-4.2"][fw];
            let mut e = base(
                format!("print-{p}"),
                "part_printed",
                start + p,
                &format!("p-{printer_no:02}"),
            );
            e["job_order_id"] = json!(id(&wo));
            e["equipment"] = json!([{"id": id(&printer(printer_no)), "role": "printer"}]);
            e["material"] = json!([
                {"definition": "PA12-CF", "lot": id(&lot(l)), "sublot": id(&spool(l, k)), "use": "consumed", "quantity": 41.5, "unit": "g"},
                {"definition": definition, "serial": id(&part(p)), "use": "produced", "quantity": 1, "unit": "ea"}
            ]);
            e["program"] = json!({"name": gcode, "digest": program(prog)});
            e["software_refs"] =
                json!([{"digest": firmware(fw), "kind": "firmware", "name": fw_name}]);
            t.print_event.push(b.push(e));
            t.part_spool.push((l, spool(l, k)));
            t.part_printer.push(printer_no);
            t.part_firmware.push(fw);
            t.part_program.push(prog);
            t.part_work_order.push(wo);
            t.part_time.push(time(start + p));
            let scrapped = p % 17 == 16;
            t.part_scrapped.push(scrapped);
            for s in 0..spec.process_steps {
                let mut e = base(
                    format!("step-{p}-{s}"),
                    "part_processed",
                    start + p,
                    &format!("st-{s}"),
                );
                e["equipment"] = json!([{"id": format!("station-{s}")}]);
                e["material"] =
                    json!([{"definition": "bracket", "serial": id(&part(p)), "use": "produced"}]);
                b.push(e);
            }
            let mut e = base(format!("qc-{p}"), "qc_result", start + p, "cmm");
            e["equipment"] = json!([{"id": "cmm-1", "role": "cmm"}]);
            e["material"] =
                json!([{"definition": "bracket", "serial": id(&part(p)), "use": "produced"}]);
            e["quality"] =
                json!({"test_spec": "CMM-42", "result": if scrapped { "fail" } else { "pass" }});
            b.push(e);
        }
        let phase1 = b.events.len();

        // Phase 2: assemblies of three good parts each, and their end-of-line test.
        let good: Vec<usize> = (0..spec.parts).filter(|p| !t.part_scrapped[*p]).collect();
        let start = start + spec.parts + 10;
        for (a, chunk) in good.chunks_exact(3).enumerate() {
            let wo = format!("work_order:WO-A{:05}", a / spec.assemblies_per_work_order);
            let hw = format!("lot:HW-{:03}", a / 50);
            let mut e = base(format!("asm-{a}"), "assembled", start + a, "press");
            e["job_order_id"] = json!(id(&wo));
            e["equipment"] = json!([{"id": "press-1", "role": "press"}]);
            let mut m: Vec<Value> = chunk
                .iter()
                .map(|p| json!({"definition": "bracket", "serial": id(&part(*p)), "use": "consumed"}))
                .collect();
            m.push(
                json!({"definition": "assembly-X", "serial": id(&assembly(a)), "use": "produced"}),
            );
            e["material"] = Value::Array(m);
            e["genealogy"] = json!([{"parent": {"lot": id(&hw)}, "child": {"serial": id(&assembly(a))}, "relation": "fastener"}]);
            t.assembly_event.push(b.push(e));
            t.assembly_parts.push(chunk.to_vec());
            t.assembly_work_order.push(wo);
            t.assembly_fastener_lot.push(hw);
            let mut e = base(format!("eol-{a}"), "eol_test", start + a, "tester");
            e["equipment"] = json!([{"id": "tester-1", "role": "tester"}]);
            e["software_refs"] = json!([{"digest": TESTER_FIRMWARE, "kind": "firmware"}]);
            e["material"] = json!([{"definition": "assembly-X", "serial": id(&assembly(a)), "use": "produced"}]);
            e["quality"] = json!({"test_spec": "EOL-7", "result": "pass"});
            b.push(e);
        }
        let assemblies = t.assembly_parts.len();
        let phase2 = b.events.len() - phase1;

        // Phase 3: shipments (every tenth assembly stays in stock), corrections, rework.
        let start = start + assemblies + 10;
        for a in 0..assemblies {
            if a % 10 == 9 {
                t.shipped.push(None);
                t.ship_event.push(None);
                continue;
            }
            let customer = format!("CUST-{:03}", (a / 5) % spec.customers);
            let order = format!("PO-{:05}", a / 5);
            let mut e = base(format!("ship-{a}"), "shipped", start + a, "dock");
            e["equipment"] = json!([{"id": "dock-1"}]);
            e["material"] = json!([{"definition": "assembly-X", "serial": id(&assembly(a)), "use": "consumed"}]);
            e["customer"] = json!({"id": customer, "order": order});
            t.ship_event.push(Some(b.push(e)));
            t.shipped
                .push(Some((format!("customer:{customer}"), order)));
        }
        if spec.corrections && spec.filament_lots >= 2 {
            // A few prints first recorded with a spool of the previous lot: the
            // corrections restate the print with the spool that was really used.
            let mut fixed = 0;
            let mut p = parts_per_lot + 5;
            while fixed < 3 && p < spec.parts {
                let (l, _) = t.part_spool[p];
                if l == 0 || t.part_scrapped[p] {
                    p += parts_per_lot;
                    continue;
                }
                // The wrong record is the original print; rewrite it before posting. The
                // correction restates the whole print, at its own effective time.
                let wrong_lot = l - 1;
                let wrong_spool = spool(wrong_lot, 0);
                let original = t.print_event[p] as usize;
                let right = b.events[original].clone();
                b.events[original]["material"][0]["lot"] = json!(id(&lot(wrong_lot)));
                b.events[original]["material"][0]["sublot"] = json!(id(&wrong_spool));
                let mut fix = right;
                fix["event_id"] = json!(format!("print-{p}-fix"));
                fix["event_type"] = json!("correction");
                fix["corrects"] =
                    json!({"event_id": format!("print-{p}"), "reason": "wrong spool scanned"});
                let at = b.push(fix);
                t.spool_errors
                    .push((p, wrong_lot, wrong_spool, original as u64, at));
                fixed += 1;
                p += parts_per_lot;
            }
            // Rework: assembly 2 taken apart and rebuilt with the same parts.
            if assemblies > 2 {
                let (a, p) = (2, t.assembly_parts[2][0]);
                let mut e = base(
                    "rework-out-2".into(),
                    "disassembled",
                    start + assemblies + 5,
                    "bench",
                );
                e["material"] = json!([
                    {"definition": "assembly-X", "serial": id(&assembly(a)), "use": "consumed"},
                    {"definition": "bracket", "serial": id(&part(p)), "use": "produced"}
                ]);
                b.push(e);
                let mut e = base(
                    "rework-in-2".into(),
                    "reassembled",
                    start + assemblies + 6,
                    "bench",
                );
                e["material"] = json!([
                    {"definition": "bracket", "serial": id(&part(p)), "use": "consumed"},
                    {"definition": "assembly-X", "serial": id(&assembly(a)), "use": "produced"}
                ]);
                b.push(e);
                t.rework = Some((a, p));
            }
        }
        let phase3 = b.events.len() - phase1 - phase2;
        Plant {
            spec,
            events: b.events,
            truth: t,
            phases: [phase1, phase2, phase3],
        }
    }

    /// The assemblies a part went into.
    pub fn assemblies_of(&self, p: usize) -> Vec<usize> {
        (0..self.truth.assembly_parts.len())
            .filter(|a| self.truth.assembly_parts[*a].contains(&p))
            .collect()
    }
}
