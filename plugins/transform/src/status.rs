//! Response status mapping: rules `{ when, set }` tried in order, the first match wins.
//! `when` is a code (`404`), a class (`5xx`) or a pattern anchored on the three digits
//! (`5\d{2}`, `40[13]`).

use regex_lite::Regex;

/// Which backend statuses a rule applies to.
#[derive(Clone, Debug)]
pub enum When {
    /// Exactly this code.
    Code(u16),
    /// Every code of this hundred (`4` for `4xx`).
    Class(u16),
    /// A pattern matched against the whole decimal code.
    Pattern(Regex),
}

/// One rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Which statuses it applies to.
    pub when: When,
    /// The status it sets.
    pub set: u16,
}

/// Whether `code` is a status a response can have.
pub fn is_status(code: u64) -> bool {
    (100..=599).contains(&code)
}

impl When {
    /// Parses `when`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let b = t.as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_digit) {
            let code: u16 = t
                .parse()
                .map_err(|_| format!("`{t}` is not a status code"))?;
            return if is_status(u64::from(code)) {
                Ok(Self::Code(code))
            } else {
                Err(format!("`{t}` is not a status code (100 to 599)"))
            };
        }
        if let [d, x, y] = b
            && d.is_ascii_digit()
            && x.eq_ignore_ascii_case(&b'x')
            && y.eq_ignore_ascii_case(&b'x')
        {
            return match d {
                b'1'..=b'5' => Ok(Self::Class(u16::from(d - b'0'))),
                _ => Err(format!("`{t}` is not a status class (1xx to 5xx)")),
            };
        }
        if t.is_empty() {
            return Err("empty; give a code (404), a class (5xx) or a pattern (5\\d{2})".into());
        }
        Regex::new(&format!("^(?:{t})$"))
            .map(Self::Pattern)
            .map_err(|e| format!("`{t}` is not a valid pattern: {e}"))
    }

    /// Whether the rule applies to `code`.
    pub fn matches(&self, code: u16) -> bool {
        match self {
            Self::Code(c) => *c == code,
            Self::Class(h) => code / 100 == *h,
            Self::Pattern(re) => re.is_match(&code.to_string()),
        }
    }
}

/// The status the first matching rule sets, if one matches.
pub fn map(rules: &[Rule], code: u16) -> Option<u16> {
    rules.iter().find(|r| r.when.matches(code)).map(|r| r.set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(when: &str, set: u16) -> Rule {
        Rule {
            when: When::parse(when).expect(when),
            set,
        }
    }

    #[test]
    fn matching() {
        let rules = [
            rule("404", 200),
            rule("5xx", 502),
            rule("4X9", 418),
            rule("40[13]", 403),
            rule("2\\d{2}|304", 299),
        ];
        for (code, want) in [
            (404, Some(200)),
            (500, Some(502)),
            (599, Some(502)),
            (409, None),
            (401, Some(403)),
            (403, Some(403)),
            (200, Some(299)),
            (304, Some(299)),
            (302, None),
            (1404, None),
        ] {
            assert_eq!(map(&rules, code), want, "{code}");
        }
        assert_eq!(
            map(&[rule("4xx", 1), rule("404", 2)], 404),
            Some(1),
            "first match wins"
        );
        assert!(!rule("40", 1).when.matches(404), "patterns are anchored");
        assert!(!rule("4", 1).when.matches(404));
    }

    #[test]
    fn refuses() {
        for (bad, want) in [
            ("", "empty"),
            ("700", "not a status code"),
            ("099", "not a status code"),
            ("5(", "not a valid pattern"),
            ("6xx", "not a status class"),
        ] {
            let e = When::parse(bad).expect_err(bad);
            assert!(e.contains(want), "{bad}: {e}");
        }
    }
}
