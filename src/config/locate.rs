//! Turns a byte span of the TOML text into what a person needs: a line number and the dotted path
//! of the field (`cluster.tick_ms`, `peers[2].raft`).

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// The 1-based line holding byte `offset` of `text`.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    // Count on bytes: an offset inside a multi-byte character still lands on the right line.
    1 + text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// The dotted path of the innermost key or value covering `offset`, if there is one.
pub(super) fn field_at(text: &str, offset: usize) -> Option<String> {
    // Recoverable parsing still yields the keys of a file with a syntax error (a duplicate key).
    let (document, _errors) = DeTable::parse_recoverable(text);
    find_in_table(document.get_ref(), offset, "")
}

// The parser gives a `[table]` header's value the span of the header only, so children are
// searched whether or not their container's span covers the offset.
fn find_in_table(table: &DeTable<'_>, offset: usize, prefix: &str) -> Option<String> {
    table.iter().find_map(|(key, value)| {
        let path = if prefix.is_empty() {
            key.get_ref().to_string()
        } else {
            format!("{prefix}.{}", key.get_ref())
        };
        if key.span().contains(&offset) {
            return Some(path);
        }
        find_in_value(value, offset, path)
    })
}

fn find_in_value(value: &Spanned<DeValue<'_>>, offset: usize, path: String) -> Option<String> {
    let inner = match value.get_ref() {
        DeValue::Table(table) => find_in_table(table, offset, &path),
        DeValue::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| find_in_value(item, offset, format!("{path}[{i}]"))),
        _ => None,
    };
    inner.or_else(|| value.span().contains(&offset).then_some(path))
}

#[cfg(test)]
mod tests {
    use super::{field_at, line_of};

    const TEXT: &str =
        "[cluster]\na = 1\nb = { c = 2 }\n\n[[peers]]\nid = 1\n\n[[peers]]\nid = 2\n";

    #[test]
    fn lines_count_from_one() {
        assert_eq!(line_of(TEXT, 0), 1);
        assert_eq!(line_of(TEXT, TEXT.find("a =").unwrap()), 2);
        assert_eq!(line_of(TEXT, TEXT.len() + 10), 10);
    }

    #[test]
    fn fields_are_found_under_headers_inline_tables_and_arrays() {
        let at = |needle: &str| field_at(TEXT, TEXT.find(needle).unwrap());
        assert_eq!(at("1\nb").as_deref(), Some("cluster.a"));
        assert_eq!(at("c =").as_deref(), Some("cluster.b.c"));
        assert_eq!(at("[cluster]").as_deref(), Some("cluster"));
        assert_eq!(at("2\n").as_deref(), Some("peers[1].id"));
        assert_eq!(field_at("x = 1\ny = [", 7), None);
    }
}
