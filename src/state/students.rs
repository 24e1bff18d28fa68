//! The student database: records keyed by roll number.

use imbl::OrdMap;
use serde::{Deserialize, Serialize};

/// One student record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Student {
    /// The key: unique per student.
    pub roll_no: u64,
    /// Full name.
    pub name: String,
    /// Postal address.
    pub address: String,
    /// Phone number, as typed.
    pub phone: String,
}

/// All students, ordered by roll number so that listings and JSON are the same on every node. A
/// persistent map: a clone is O(1) (see the module docs of [`crate::state`]).
#[derive(Clone, Debug, Default)]
pub(super) struct Students {
    by_roll_no: OrdMap<u64, Student>,
}

impl Students {
    /// Inserts or replaces the record with `student.roll_no`.
    pub(super) fn put(&mut self, student: Student) {
        self.by_roll_no.insert(student.roll_no, student);
    }

    /// Removes a record; true if it existed.
    pub(super) fn delete(&mut self, roll_no: u64) -> bool {
        self.by_roll_no.remove(&roll_no).is_some()
    }

    /// The record with this roll number.
    pub(super) fn get(&self, roll_no: u64) -> Option<&Student> {
        self.by_roll_no.get(&roll_no)
    }

    /// Every record, by ascending roll number.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Student> + '_ {
        self.by_roll_no.values()
    }

    /// The number of records.
    pub(super) fn len(&self) -> usize {
        self.by_roll_no.len()
    }

    /// Adds a record read back from a snapshot, which lists them by ascending roll number; refuses
    /// a repeated or out-of-order one.
    pub(super) fn restore(&mut self, student: Student) -> Result<(), String> {
        if let Some(&(last, _)) = self.by_roll_no.get_max() {
            if student.roll_no <= last {
                let roll_no = student.roll_no;
                return Err(format!(
                    "roll number {roll_no} is out of order (after {last})"
                ));
            }
        }
        self.put(student);
        Ok(())
    }
}
