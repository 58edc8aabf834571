//! The NIST SP 800-171 catalogs and the DoD methodology's values, as loaded from
//! `controls/`: counts, families, identifiers, and the score range the table implies;
//! and assessment results recorded through the API, checked against them.

use crate::common;

use common::{event, TestServer};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use threadlog::api::auth::{new_token, token_hash};
use threadlog::controls::sprs::{self, Points};
use threadlog::controls::{catalog, Framework};

mod assessments;
mod catalogs;
mod sprs_scenarios;
