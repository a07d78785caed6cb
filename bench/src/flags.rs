//! The `--key value` / `--switch` parser shared by the bench binaries (they are driven by
//! `bench/compare.sh`, not by people, so a full CLI parser would be weight for nothing).

use std::{collections::HashMap, str::FromStr};

use anyhow::{anyhow, bail, Context, Result};

/// Parsed `--key value` pairs and positional arguments.
#[derive(Debug, Default)]
pub struct Flags {
    values: HashMap<String, String>,
    /// Arguments that are not `--key value` pairs, in order (everything after `--` too).
    pub positional: Vec<String>,
}

impl Flags {
    /// Parses the process arguments (without the program name). `switches` are flags that
    /// take no value.
    pub fn from_env(switches: &[&str]) -> Result<Self> {
        Self::parse(std::env::args().skip(1), switches)
    }

    /// Parses `args`. `switches` are flags that take no value.
    pub fn parse(args: impl IntoIterator<Item = String>, switches: &[&str]) -> Result<Self> {
        let mut flags = Self::default();
        let mut args = args.into_iter();
        while let Some(a) = args.next() {
            if a == "--" {
                flags.positional.extend(args.by_ref());
                break;
            }
            match a.strip_prefix("--") {
                Some(key) if switches.contains(&key) => {
                    flags.values.insert(key.to_string(), "true".into());
                }
                Some(key) => {
                    let v = args.next().with_context(|| format!("--{key} needs a value"))?;
                    flags.values.insert(key.to_string(), v);
                }
                None => flags.positional.push(a),
            }
        }
        Ok(flags)
    }

    /// Whether a switch was given.
    pub fn switch(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// The value of `--key` parsed as `T`, if given.
    pub fn opt<T: FromStr>(&self, key: &str) -> Result<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        self.values.get(key).map(|v| v.parse::<T>().map_err(|e| anyhow!("--{key} {v}: {e}"))).transpose()
    }

    /// The value of `--key` parsed as `T`, or `default`.
    pub fn get<T: FromStr>(&self, key: &str, default: T) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        Ok(self.opt(key)?.unwrap_or(default))
    }

    /// The value of `--key` parsed as `T`; an error naming the flag if missing.
    pub fn need<T: FromStr>(&self, key: &str) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        match self.opt(key)? {
            Some(v) => Ok(v),
            None => bail!("--{key} is required"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_switches_and_positionals() -> Result<()> {
        let args = ["a", "--n", "5", "--quick", "b", "--", "--x", "y"].map(String::from);
        let f = Flags::parse(args, &["quick"])?;
        assert_eq!(f.need::<u32>("n")?, 5);
        assert!(f.switch("quick"));
        assert_eq!(f.get("missing", 7u8)?, 7);
        assert_eq!(f.positional, ["a", "b", "--x", "y"]);
        assert!(f.need::<u32>("missing").is_err());
        assert!(Flags::parse(["--n".to_string()], &[]).is_err());
        Ok(())
    }
}
