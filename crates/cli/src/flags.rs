//! Flag values with a shape: `KEY=VALUE` pairs, application ports, CPU and memory amounts.
//!
//! Each parser is a plain function clap calls, so a malformed value is a usage error (exit
//! code 2, with clap's message naming the flag) before any file is read or any call is made.
//! What the values mean for a spec (name shapes, ranges, duplicates) is checked later by the
//! same validation as `cordium validate`.

/// An application from `--port [NAME:]PORT[:default]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Port {
    /// The application's name (`port-<PORT>` when the flag gives none).
    pub(crate) name: String,
    /// The port, 1 to 65535.
    pub(crate) port: u16,
    /// Whether it is the default application (`:default`).
    pub(crate) is_default: bool,
}

/// `KEY=VALUE`, with a non-empty key; the value may be empty and may hold `=`.
pub(crate) fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}

/// `PORT` (named `port-PORT`), `PORT:default`, `NAME:PORT` or `NAME:PORT:default`.
pub(crate) fn port(s: &str) -> Result<Port, String> {
    let usage = || format!("`{s}` is not PORT, NAME:PORT or NAME:PORT:default");
    let parts: Vec<&str> = s.split(':').collect();
    let (name, number, is_default) = match parts.as_slice() {
        [number] => (None, *number, false),
        [number, "default"] if number.bytes().all(|b| b.is_ascii_digit()) => (None, *number, true),
        [name, number] => (Some(*name), *number, false),
        [name, number, "default"] => (Some(*name), *number, true),
        _ => return Err(usage()),
    };
    if !number.bytes().all(|b| b.is_ascii_digit()) || number.is_empty() {
        return Err(usage());
    }
    let port = number
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("`{number}`: a port is 1 to 65535"))?;
    let name = match name {
        Some("") => return Err(usage()),
        Some(name) => name.to_owned(),
        None => format!("port-{port}"),
    };
    Ok(Port {
        name,
        port,
        is_default,
    })
}

/// CPU in millicores: `1500` and `1500m` are millicores (`--cpu MILLICORES`, as upstream
/// spells it), a number with a decimal point is cores (`1.5`, `0.25`).
pub(crate) fn cpu(s: &str) -> Result<u32, String> {
    let text = s.trim();
    let (number, factor) = match text.strip_suffix('m') {
        Some(millis) => (millis, 1),
        None if text.contains('.') => (text, 1000),
        None => (text, 1),
    };
    scaled(number, factor).map_err(|why| {
        format!("`{s}`: {why}; write millicores (`500`, `500m`) or cores with a point (`0.5`)")
    })
}

/// Memory in megabytes (as runtimes read the spec: mebibytes): `512`, `512M`, `512Mi` and
/// `512MB` are megabytes; `2G`, `2Gi`, `2GB` are gigabytes of 1024 megabytes, and may have a
/// fraction (`1.5G`). Units are case-insensitive.
pub(crate) fn memory(s: &str) -> Result<u32, String> {
    let text = s.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let factor = match unit.to_ascii_lowercase().as_str() {
        "" | "m" | "mi" | "mb" => 1,
        "g" | "gi" | "gb" => 1024,
        _ => {
            return Err(format!(
                "`{s}`: unknown unit `{unit}`; write megabytes (`512`, `512Mi`) or gigabytes (`2Gi`)"
            ));
        }
    };
    scaled(number, factor).map_err(|why| {
        format!("`{s}`: {why}; write megabytes (`512`, `512Mi`) or gigabytes (`2Gi`)")
    })
}

/// `number` (digits, at most one `.`) times `factor`, which must come out a whole, positive
/// `u32`.
fn scaled(number: &str, factor: u64) -> Result<u32, &'static str> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits_only = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty())
        || !digits_only(whole)
        || !digits_only(fraction)
        || whole.len() + fraction.len() > 12
    {
        return Err("not a number");
    }
    // Every value fits: at most 12 digits (< 10^12) times a factor of at most 1024.
    let mantissa: u64 = format!("{whole}{fraction}")
        .parse()
        .map_err(|_| "not a number")?;
    let scale = 10_u64.pow(fraction.len() as u32);
    let total = mantissa * factor;
    if !total.is_multiple_of(scale) {
        return Err("finer than the unit allows");
    }
    match u32::try_from(total / scale) {
        Ok(0) => Err("must be more than 0"),
        Ok(value) => Ok(value),
        Err(_) => Err("too large"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, port: u16, is_default: bool) -> Port {
        Port {
            name: name.to_owned(),
            port,
            is_default,
        }
    }

    #[test]
    fn ports() {
        assert_eq!(port("3000"), Ok(p("port-3000", 3000, false)));
        assert_eq!(port("3000:default"), Ok(p("port-3000", 3000, true)));
        assert_eq!(port("web:3000"), Ok(p("web", 3000, false)));
        assert_eq!(port("web:3000:default"), Ok(p("web", 3000, true)));
        for bad in [
            "",
            "web",
            ":3000",
            "web:",
            "web:x",
            "web:3000:yes",
            "a:b:c:d",
            "web:-1",
        ] {
            assert!(port(bad).is_err(), "{bad}");
        }
        assert_eq!(port("web:0"), Err("`0`: a port is 1 to 65535".into()));
        assert_eq!(port("70000"), Err("`70000`: a port is 1 to 65535".into()));
    }

    #[test]
    fn cpu_amounts() {
        assert_eq!(cpu("1500"), Ok(1500));
        assert_eq!(cpu("1500m"), Ok(1500));
        assert_eq!(cpu("1.5"), Ok(1500));
        assert_eq!(cpu("0.25"), Ok(250));
        assert_eq!(cpu("2.0"), Ok(2000));
        assert_eq!(cpu(".5"), Ok(500));
        assert_eq!(
            cpu("0.0005"),
            Err("`0.0005`: finer than the unit allows; write millicores (`500`, `500m`) or cores with a point (`0.5`)".into())
        );
        for bad in [
            "",
            "0",
            "0m",
            "1.5m",
            "-1",
            "one",
            "1e3",
            "1..5",
            "99999999999999",
        ] {
            assert!(cpu(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn memory_amounts() {
        for (text, mb) in [
            ("512", 512),
            ("512M", 512),
            ("512Mi", 512),
            ("512mb", 512),
            ("1G", 1024),
            ("1Gi", 1024),
            ("2gb", 2048),
            ("1.5G", 1536),
        ] {
            assert_eq!(memory(text), Ok(mb), "{text}");
        }
        assert!(memory("1T").is_err_and(|e| e.contains("unknown unit `T`")));
        for bad in ["", "0", "Mi", "1.5", "0.0001G", "-5", "5000000G"] {
            assert!(memory(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_values() {
        assert_eq!(key_value("A=b=c"), Ok(("A".into(), "b=c".into())));
        assert_eq!(key_value("A="), Ok(("A".into(), String::new())));
        assert!(key_value("=x").is_err());
        assert!(key_value("A").is_err());
    }
}
