//! One command's life on one node: the code writer and the door and relock steps, as a pure
//! state machine. The session feeds it the answers to its own requests, the node's reports and
//! its timers; it answers with the next request, a wait, or the outcome.
//!
//! A code: write it, wait for the lock to store it, read the status back, then the code, and
//! decide with [`SlotContents::confirms`]: exactly the code enabled is confirmed, enabled but
//! masked is assumed, empty or another code means the write did not land (write again after a
//! backoff, up to the bound), another status means the slot kept a Disabled status from the
//! gateway's cache (write the status Enabled now that the code is there, then read back again).
//! The echo and `writeValue`'s 254 decide nothing. A failed send or a read that brings nothing
//! back is followed by a ping: dead is offline, alive is a retry within the same bound.

use std::time::Duration;

use latchkey_zwave::{
    Confirmation, Method, Motion, Position, Report, Request, SlotContents, SlotStatus, WriteOutcome,
};

use super::{FailReason, JobId, Outcome, ZwaveCommand, ZwaveOptions};

/// Where the job stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Pinging a node believed dead or silent before writing.
    Probe,
    /// A write is in flight.
    Write,
    /// Waiting for the lock to store the write before reading it back.
    Settle,
    ReadStatus,
    ReadCode,
    /// Waiting before writing again.
    Backoff,
    /// Pinging after a failed send or read.
    ProbeAfterFail,
    /// Waiting for `currentMode` after a lock or unlock.
    AwaitPosition,
    ReadPosition,
    ReadRelock,
}

/// What a job is told.
#[derive(Clone, Debug)]
pub(crate) enum Input {
    Written(WriteOutcome),
    /// The API call failed (`success:false`).
    Failed,
    /// `pollValue` brought this back.
    Read(Report),
    /// `pollValue` brought nothing back.
    ReadNothing,
    Pinged(bool),
    /// The request in flight was not answered in time.
    Timeout,
    /// The wait is over.
    Timer,
    /// The node reported this (not an echo).
    NodeReport(Report),
}

/// What the job wants next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Send(Request),
    Wait(Duration),
    Done(Outcome),
    /// Nothing changes.
    Stay,
}

/// One command being carried out.
#[derive(Debug)]
pub(crate) struct Job {
    pub(crate) id: JobId,
    pub(crate) command: ZwaveCommand,
    pub(crate) step: Step,
    /// Writes sent so far (status fixes included).
    pub(crate) writes: u32,
    status_read: Option<SlotStatus>,
}

impl Job {
    pub(crate) fn new(id: JobId, command: ZwaveCommand) -> Self {
        Job {
            id,
            command,
            step: Step::Write,
            writes: 0,
            status_read: None,
        }
    }

    /// The first action: a ping when the node may be dead, else the write.
    pub(crate) fn start(&mut self, probe: bool) -> Action {
        if probe {
            self.step = Step::Probe;
            Action::Send(Request::Ping {
                node: self.command.node(),
            })
        } else {
            self.write()
        }
    }

    fn write(&mut self) -> Action {
        self.writes += 1;
        if let ZwaveCommand::ReadSlot { node, slot } = &self.command {
            // A read has no write: it starts at the status read (a retry reads again).
            self.step = Step::ReadStatus;
            return Action::Send(Request::ReadSlotStatus {
                node: *node,
                slot: *slot,
            });
        }
        if let ZwaveCommand::ReadPosition { node } = &self.command {
            // A read has no write: it starts at the read (a retry reads again).
            self.step = Step::ReadPosition;
            return Action::Send(Request::ReadPosition { node: *node });
        }
        self.step = Step::Write;
        Action::Send(match &self.command {
            ZwaveCommand::SetCode {
                node,
                slot,
                pin,
                status: SlotStatus::Enabled,
            } => Request::SetCode {
                node: *node,
                slot: *slot,
                pin: pin.clone(),
            },
            // Any other status goes with the code in one Set: never enabled in between.
            ZwaveCommand::SetCode {
                node,
                slot,
                pin,
                status,
            } => Request::SetCodeAs {
                node: *node,
                slot: *slot,
                status: *status,
                pin: pin.clone(),
            },
            ZwaveCommand::ClearSlot { node, slot } => Request::ClearSlot {
                node: *node,
                slot: *slot,
            },
            ZwaveCommand::ReadSlot { node, slot } => Request::ReadSlotStatus {
                node: *node,
                slot: *slot,
            },
            ZwaveCommand::Lock { node } => Request::Lock { node: *node },
            ZwaveCommand::Unlock { node } => Request::Unlock { node: *node },
            ZwaveCommand::ReadPosition { node } => Request::ReadPosition { node: *node },
            ZwaveCommand::SetAutoRelock { node, seconds } => Request::SetAutoRelock {
                node: *node,
                seconds: *seconds,
            },
        })
    }

    /// Another write after a backoff, or the end when the bound is reached.
    fn retry(&mut self, opts: &ZwaveOptions) -> Action {
        if self.writes >= opts.max_writes {
            return Action::Done(Outcome::Failed(FailReason::NotLanded));
        }
        self.step = Step::Backoff;
        let doublings = self.writes.saturating_sub(1).min(10);
        Action::Wait(opts.retry_backoff.saturating_mul(1 << doublings))
    }

    fn probe_after_fail(&mut self) -> Action {
        self.step = Step::ProbeAfterFail;
        Action::Send(Request::Ping {
            node: self.command.node(),
        })
    }

    fn target(&self) -> Option<Motion> {
        match self.command {
            ZwaveCommand::Lock { .. } => Some(Motion::Locked),
            ZwaveCommand::Unlock { .. } => Some(Motion::Unlocked),
            _ => None,
        }
    }

    fn reached(&self, p: Position) -> bool {
        matches!(
            (self.target(), p),
            (Some(Motion::Locked), Position::Locked)
                | (Some(Motion::Unlocked), Position::Unlocked { .. })
        )
    }

    /// The next action after `input`.
    pub(crate) fn on(&mut self, input: Input, opts: &ZwaveOptions) -> Action {
        use Step::*;
        let node = self.command.node();
        match (self.step, input) {
            (Probe, Input::Pinged(true)) => self.write(),
            (Probe | ProbeAfterFail, Input::Pinged(false) | Input::Failed | Input::Timeout) => {
                Action::Done(Outcome::Offline)
            }
            (ProbeAfterFail, Input::Pinged(true)) => self.retry(opts),
            (Write, Input::Written(outcome)) => match outcome {
                WriteOutcome::NoDeviceSupport
                | WriteOutcome::EndpointNotFound
                | WriteOutcome::NotImplemented => {
                    Action::Done(Outcome::Failed(FailReason::Unsupported))
                }
                WriteOutcome::InvalidValue => Action::Done(Outcome::Failed(FailReason::Refused(
                    "zwave-js refused the value".into(),
                ))),
                WriteOutcome::Failed | WriteOutcome::Other(_) => self.probe_after_fail(),
                WriteOutcome::Confirmed | WriteOutcome::Unsupervised | WriteOutcome::Working => {
                    if self.target().is_some() {
                        self.step = AwaitPosition;
                        Action::Wait(opts.position_timeout)
                    } else {
                        self.step = Settle;
                        Action::Wait(opts.settle)
                    }
                }
            },
            (
                Write | ReadStatus | ReadCode | ReadPosition | ReadRelock,
                Input::Failed | Input::ReadNothing | Input::Timeout,
            ) => self.probe_after_fail(),
            (Settle, Input::Timer) => match &self.command {
                ZwaveCommand::SetCode { slot, .. } | ZwaveCommand::ClearSlot { slot, .. } => {
                    self.step = ReadStatus;
                    Action::Send(Request::ReadSlotStatus { node, slot: *slot })
                }
                _ => {
                    self.step = ReadRelock;
                    Action::Send(Request::ReadAutoRelock { node })
                }
            },
            (Backoff, Input::Timer) => self.write(),
            (ReadStatus, Input::Read(Report::SlotStatus { status, .. })) => {
                let empty = matches!(status, SlotStatus::Available | SlotStatus::NotAvailable);
                match &self.command {
                    ZwaveCommand::ReadSlot { .. } if empty => {
                        Action::Done(Outcome::Read(SlotContents::Empty))
                    }
                    ZwaveCommand::ClearSlot { .. } if empty => Action::Done(Outcome::Confirmed),
                    ZwaveCommand::ClearSlot { .. } => self.retry(opts),
                    ZwaveCommand::SetCode { .. } if empty => self.retry(opts),
                    ZwaveCommand::SetCode { slot, .. } | ZwaveCommand::ReadSlot { slot, .. } => {
                        self.status_read = Some(status);
                        self.step = ReadCode;
                        Action::Send(Request::ReadSlotCode { node, slot: *slot })
                    }
                    _ => Action::Stay,
                }
            }
            (ReadCode, Input::Read(Report::SlotCode { code, .. }))
                if matches!(self.command, ZwaveCommand::ReadSlot { .. }) =>
            {
                let status = self.status_read.unwrap_or(SlotStatus::Available);
                Action::Done(Outcome::Read(SlotContents::of(status, code)))
            }
            (ReadCode, Input::Read(Report::SlotCode { code, .. })) => {
                let ZwaveCommand::SetCode {
                    slot, pin, status, ..
                } = &self.command
                else {
                    return Action::Stay;
                };
                let read = self.status_read.unwrap_or(SlotStatus::Available);
                match SlotContents::of(read, code).confirms_as(pin.expose(), *status) {
                    Confirmation::Confirmed => Action::Done(Outcome::Confirmed),
                    Confirmation::StatusOnly => Action::Done(Outcome::Assumed),
                    Confirmation::Empty | Confirmation::OtherCode => self.retry(opts),
                    Confirmation::WrongStatus(_) if self.writes < opts.max_writes => {
                        // The code is in the gateway's cache now, so the status can be set.
                        self.writes += 1;
                        self.step = Write;
                        Action::Send(Request::SetSlotStatus {
                            node,
                            slot: *slot,
                            status: *status,
                        })
                    }
                    Confirmation::WrongStatus(_) => {
                        Action::Done(Outcome::Failed(FailReason::NotLanded))
                    }
                }
            }
            (
                AwaitPosition | ReadPosition,
                Input::NodeReport(Report::Alarm(latchkey_zwave::Alarm::Jam)),
            ) => Action::Done(Outcome::Failed(FailReason::Jammed)),
            (AwaitPosition, Input::NodeReport(Report::Position(p))) if self.reached(p) => {
                Action::Done(Outcome::Confirmed)
            }
            (AwaitPosition, Input::NodeReport(Report::Operation(op)))
                if op.method == Method::Remote && Some(op.motion) == self.target() =>
            {
                Action::Done(Outcome::Confirmed)
            }
            (AwaitPosition, Input::Timer) => {
                self.step = ReadPosition;
                Action::Send(Request::ReadPosition { node })
            }
            (ReadPosition, Input::Read(Report::Position(_)))
                if matches!(self.command, ZwaveCommand::ReadPosition { .. }) =>
            {
                // The answer itself reaches ingestion as the node's report.
                Action::Done(Outcome::Confirmed)
            }
            (ReadPosition, Input::Read(Report::Position(p))) => Action::Done(if self.reached(p) {
                Outcome::Confirmed
            } else {
                Outcome::Failed(FailReason::NotMoved)
            }),
            (ReadRelock, Input::Read(Report::AutoRelock { seconds })) => match &self.command {
                ZwaveCommand::SetAutoRelock { seconds: want, .. }
                    if u32::from(*want) == seconds =>
                {
                    Action::Done(Outcome::Confirmed)
                }
                _ => self.retry(opts),
            },
            _ => Action::Stay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use latchkey_zwave::{Pin, ReportedCode};

    fn set_code() -> Job {
        Job::new(
            JobId(1),
            ZwaveCommand::SetCode {
                node: 12,
                slot: 3,
                pin: Pin::new("0427").expect("pin"),
                status: SlotStatus::Enabled,
            },
        )
    }

    fn code(s: &str) -> ReportedCode {
        // Through the codec's own parser, as the session gets it.
        let mut d = latchkey_zwave::Decoder::new(
            latchkey_zwave::Topics::default(),
            latchkey_zwave::Limits::DEFAULT,
        );
        d.learn(&[latchkey_zwave::NodeSummary {
            id: 12,
            ..Default::default()
        }]);
        let payload = serde_json::json!({"time": 5, "value": s}).to_string();
        match d.decode("zwave/12/99/0/userCode/3", payload.as_bytes()) {
            Ok(Some(latchkey_zwave::Inbound::Node {
                report: Report::SlotCode { code, .. },
                ..
            })) => code,
            other => panic!("{other:?}"),
        }
    }

    fn read_back(job: &mut Job, opts: &ZwaveOptions, status: SlotStatus, c: &str) -> Action {
        assert_eq!(
            job.on(Input::Timer, opts),
            Action::Send(Request::ReadSlotStatus { node: 12, slot: 3 })
        );
        let next = job.on(Input::Read(Report::SlotStatus { slot: 3, status }), opts);
        if next != (Action::Send(Request::ReadSlotCode { node: 12, slot: 3 })) {
            return next;
        }
        job.on(
            Input::Read(Report::SlotCode {
                slot: 3,
                code: code(c),
            }),
            opts,
        )
    }

    #[test]
    fn the_254_answer_decides_nothing_the_read_back_does() {
        let opts = ZwaveOptions::default();
        let mut job = set_code();
        assert!(matches!(
            job.start(false),
            Action::Send(Request::SetCode { .. })
        ));
        assert_eq!(
            job.on(Input::Written(WriteOutcome::Unsupervised), &opts),
            Action::Wait(opts.settle)
        );
        assert_eq!(
            read_back(&mut job, &opts, SlotStatus::Enabled, "0427"),
            Action::Done(Outcome::Confirmed)
        );
    }

    #[test]
    fn masked_is_assumed_and_empty_is_written_again_up_to_the_bound() {
        let opts = ZwaveOptions::default();
        let mut job = set_code();
        job.start(false);
        job.on(Input::Written(WriteOutcome::Unsupervised), &opts);
        assert_eq!(
            read_back(&mut job, &opts, SlotStatus::Enabled, "****"),
            Action::Done(Outcome::Assumed)
        );

        let mut job = set_code();
        job.start(false);
        for n in 1..opts.max_writes {
            job.on(Input::Written(WriteOutcome::Unsupervised), &opts);
            let wait = read_back(&mut job, &opts, SlotStatus::Available, "");
            assert_eq!(wait, Action::Wait(opts.retry_backoff * (1 << (n - 1))));
            assert!(matches!(
                job.on(Input::Timer, &opts),
                Action::Send(Request::SetCode { .. })
            ));
        }
        job.on(Input::Written(WriteOutcome::Unsupervised), &opts);
        assert_eq!(
            read_back(&mut job, &opts, SlotStatus::Available, "0000"),
            Action::Done(Outcome::Failed(FailReason::NotLanded))
        );
        assert_eq!(job.writes, opts.max_writes);
    }

    #[test]
    fn a_kept_disabled_status_is_fixed_by_writing_the_status_after_the_code() {
        let opts = ZwaveOptions::default();
        let mut job = set_code();
        job.start(false);
        job.on(Input::Written(WriteOutcome::Unsupervised), &opts);
        assert_eq!(
            read_back(&mut job, &opts, SlotStatus::Disabled, "0427"),
            Action::Send(Request::SetSlotStatus {
                node: 12,
                slot: 3,
                status: SlotStatus::Enabled
            })
        );
        job.on(Input::Written(WriteOutcome::Unsupervised), &opts);
        assert_eq!(
            read_back(&mut job, &opts, SlotStatus::Enabled, "0427"),
            Action::Done(Outcome::Confirmed)
        );
    }

    #[test]
    fn a_read_reads_the_status_then_the_code_and_says_what_it_found() {
        let opts = ZwaveOptions::default();
        let read = || Job::new(JobId(4), ZwaveCommand::ReadSlot { node: 12, slot: 3 });
        let mut job = read();
        assert_eq!(
            job.start(false),
            Action::Send(Request::ReadSlotStatus { node: 12, slot: 3 })
        );
        assert_eq!(
            job.on(
                Input::Read(Report::SlotStatus {
                    slot: 3,
                    status: SlotStatus::Available
                }),
                &opts
            ),
            Action::Done(Outcome::Read(SlotContents::Empty))
        );
        let mut job = read();
        job.start(false);
        assert_eq!(
            job.on(
                Input::Read(Report::SlotStatus {
                    slot: 3,
                    status: SlotStatus::Enabled
                }),
                &opts
            ),
            Action::Send(Request::ReadSlotCode { node: 12, slot: 3 })
        );
        assert_eq!(
            job.on(
                Input::Read(Report::SlotCode {
                    slot: 3,
                    code: code("****")
                }),
                &opts
            ),
            Action::Done(Outcome::Read(SlotContents::Occupied {
                status: SlotStatus::Enabled,
                code: ReportedCode::Masked { len: 4 },
            }))
        );
        // A read that brings nothing back pings, and reads again while the node lives.
        let mut job = read();
        job.start(false);
        assert_eq!(
            job.on(Input::ReadNothing, &opts),
            Action::Send(Request::Ping { node: 12 })
        );
        assert_eq!(
            job.on(Input::Pinged(true), &opts),
            Action::Wait(opts.retry_backoff)
        );
        assert_eq!(
            job.on(Input::Timer, &opts),
            Action::Send(Request::ReadSlotStatus { node: 12, slot: 3 })
        );
    }

    #[test]
    fn a_failed_send_pings_and_a_dead_ping_is_offline() {
        let opts = ZwaveOptions::default();
        let mut job = set_code();
        job.start(false);
        assert_eq!(
            job.on(Input::Written(WriteOutcome::Failed), &opts),
            Action::Send(Request::Ping { node: 12 })
        );
        assert_eq!(
            job.on(Input::Pinged(false), &opts),
            Action::Done(Outcome::Offline)
        );
        let mut job = set_code();
        assert_eq!(job.start(true), Action::Send(Request::Ping { node: 12 }));
        assert_eq!(
            job.on(Input::Timeout, &opts),
            Action::Done(Outcome::Offline)
        );
    }

    #[test]
    fn refused_and_unsupported_writes_fail_at_once() {
        let opts = ZwaveOptions::default();
        let mut job = set_code();
        job.start(false);
        assert!(matches!(
            job.on(Input::Written(WriteOutcome::InvalidValue), &opts),
            Action::Done(Outcome::Failed(FailReason::Refused(_)))
        ));
        let mut job = set_code();
        job.start(false);
        assert_eq!(
            job.on(Input::Written(WriteOutcome::NoDeviceSupport), &opts),
            Action::Done(Outcome::Failed(FailReason::Unsupported))
        );
    }

    #[test]
    fn an_unlock_is_confirmed_by_current_mode_never_by_the_target_echo() {
        let opts = ZwaveOptions::default();
        let mut job = Job::new(JobId(2), ZwaveCommand::Unlock { node: 12 });
        job.start(false);
        job.on(Input::Written(WriteOutcome::Unsupervised), &opts);
        assert_eq!(
            job.on(
                Input::NodeReport(Report::Target(Position::Unlocked { mode: 0 })),
                &opts
            ),
            Action::Stay
        );
        assert_eq!(
            job.on(Input::NodeReport(Report::Position(Position::Locked)), &opts),
            Action::Stay
        );
        assert_eq!(
            job.on(
                Input::NodeReport(Report::Position(Position::Unlocked { mode: 0 })),
                &opts
            ),
            Action::Done(Outcome::Confirmed)
        );
        let mut job = Job::new(JobId(3), ZwaveCommand::Lock { node: 12 });
        job.start(false);
        job.on(Input::Written(WriteOutcome::Unsupervised), &opts);
        assert_eq!(
            job.on(Input::Timer, &opts),
            Action::Send(Request::ReadPosition { node: 12 })
        );
        assert_eq!(
            job.on(
                Input::Read(Report::Position(Position::Unlocked { mode: 0 })),
                &opts
            ),
            Action::Done(Outcome::Failed(FailReason::NotMoved))
        );
    }
}
