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
}
