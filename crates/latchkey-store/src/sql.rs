//! Statements built at run time with the placeholders each backend wants: `$N` for PostgreSQL
//! (`QueryBuilder` over the Any driver writes `?`, which PostgreSQL rejects) and `?` for SQLite
//! (SQLite resolves each named `$N` by a linear scan, so a 9,000-parameter insert spends its time
//! looking up names). Only placeholders carry values; the text is assembled from literals here.

use std::fmt::Write;

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AssertSqlSafe};

use crate::Backend;

/// A bound value.
pub(crate) enum Param {
    Int(Option<i64>),
    Text(Option<String>),
    Bytes(Vec<u8>),
}

impl From<i64> for Param {
    fn from(v: i64) -> Self {
        Param::Int(Some(v))
    }
}

impl From<Option<i64>> for Param {
    fn from(v: Option<i64>) -> Self {
        Param::Int(v)
    }
}

impl From<String> for Param {
    fn from(v: String) -> Self {
        Param::Text(Some(v))
    }
}

impl From<Option<String>> for Param {
    fn from(v: Option<String>) -> Self {
        Param::Text(v)
    }
}

impl From<&str> for Param {
    fn from(v: &str) -> Self {
        Param::Text(Some(v.to_owned()))
    }
}

impl From<Vec<u8>> for Param {
    fn from(v: Vec<u8>) -> Self {
        Param::Bytes(v)
    }
}

pub(crate) struct Sql {
    backend: Backend,
    text: String,
    params: Vec<Param>,
}

impl Sql {
    pub(crate) fn new(backend: Backend, text: &'static str) -> Sql {
        Sql {
            backend,
            text: text.to_owned(),
            params: Vec::new(),
        }
    }

    pub(crate) fn push(&mut self, text: &'static str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `value`.
    pub(crate) fn bind(&mut self, value: impl Into<Param>) -> &mut Sql {
        self.params.push(value.into());
        match self.backend {
            Backend::Sqlite => self.text.push('?'),
            Backend::Postgres => {
                let _ = write!(self.text, "${}", self.params.len());
            }
        }
        self
    }

    /// Appends `(v1, v2, …)` placeholders for a list.
    pub(crate) fn bind_list<P: Into<Param>>(
        &mut self,
        values: impl IntoIterator<Item = P>,
    ) -> &mut Sql {
        self.text.push('(');
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(v);
        }
        self.text.push(')');
        self
    }

    pub(crate) fn query(self) -> Query<'static, Any, AnyArguments> {
        let mut q = sqlx::query(AssertSqlSafe(self.text));
        for p in self.params {
            q = match p {
                Param::Int(v) => q.bind(v),
                Param::Text(s) => q.bind(s),
                Param::Bytes(b) => q.bind(b),
            };
        }
        q
    }
}
