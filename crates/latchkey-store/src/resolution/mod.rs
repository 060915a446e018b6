//! How lockout cases end: doors opened and codes released for a case, locksmith jobs, the
//! per-unit ledger of lockout charges, and incidents on doors (marked for service, compromised).

mod incidents;
mod jobs;
mod ledger;
mod steps;

pub use incidents::{Incident, close_incident, get_incident, incidents, open_incident};
pub use jobs::{Job, NewJob, advance_job, create_job, get_job, job_by_token, jobs_of_case};
pub use ledger::{Charge, add_charge, charges_of_case, ledger};
pub use steps::{
    Challenge, Change, Opening, add_opening, create_challenge, create_change, finish_change,
    get_change, latest_change, opening_of_code, see_challenge,
};
