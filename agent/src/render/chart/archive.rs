//! Chart archives (`.tgz`) unpacked in memory: gzip and tar read with size
//! caps, no absolute or `..` paths, no links; the top directory stripped.

use std::collections::BTreeMap;
use std::io::Read as _;

use super::ChartError;
use super::load::{Chart, MAX_FILE_SIZE};

/// The most an archive may unpack to (Helm's limit).
pub const MAX_UNPACKED_SIZE: u64 = 100 * 1024 * 1024;

/// Unpacks a chart archive and loads the chart in it.
pub fn load(origin: &str, bytes: &[u8]) -> Result<Chart, ChartError> {
    Chart::from_files(origin, unpack(origin, bytes)?)
}

/// The files of a chart archive, relative to its top directory.
pub fn unpack(origin: &str, bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, ChartError> {
    let error = |reason: String| ChartError::Archive { archive: origin.to_string(), reason };
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(MAX_UNPACKED_SIZE + 1)
        .read_to_end(&mut tar)
        .map_err(|e| error(format!("not a gzip archive: {e}")))?;
    if tar.len() as u64 > MAX_UNPACKED_SIZE {
        return Err(error(format!("unpacks to more than {MAX_UNPACKED_SIZE} bytes")));
    }
    let mut files = BTreeMap::new();
    let mut offset = 0;
    let mut long_name: Option<String> = None;
    while offset + 512 <= tar.len() {
        let header = &tar[offset..offset + 512];
        if header.iter().all(|b| *b == 0) {
            break;
        }
        let field = |start: usize, len: usize| {
            let raw = &header[start..start + len];
            let end = raw.iter().position(|b| *b == 0).unwrap_or(len);
            String::from_utf8_lossy(&raw[..end]).to_string()
        };
        let size = u64::from_str_radix(field(124, 12).trim(), 8).map_err(|_| error("corrupt tar header".into()))?;
        let size = usize::try_from(size).map_err(|_| error("corrupt tar header".into()))?;
        let kind = header[156];
        let data_start = offset + 512;
        let data_end = data_start
            .checked_add(size)
            .filter(|end| *end <= tar.len())
            .ok_or_else(|| error("truncated archive".into()))?;
        let data = &tar[data_start..data_end];
        offset = data_start + size.div_ceil(512) * 512;
        let name = match long_name.take() {
            Some(name) => name,
            None => {
                let prefix = field(345, 155);
                let name = field(0, 100);
                if prefix.is_empty() { name } else { format!("{prefix}/{name}") }
            }
        };
        match kind {
            b'L' => {
                long_name = Some(String::from_utf8_lossy(data).trim_end_matches('\0').to_string());
                continue;
            }
            b'x' | b'g' | b'5' => continue,
            b'0' | 0 => {}
            b'1' | b'2' => return Err(error(format!("{name}: links are not allowed in chart archives"))),
            _ => continue,
        }
        if name.starts_with('/') || name.split('/').any(|part| part == "..") {
            return Err(error(format!("{name}: absolute or parent paths are not allowed")));
        }
        if size > MAX_FILE_SIZE {
            return Err(error(format!("{name}: file is larger than {MAX_FILE_SIZE} bytes")));
        }
        let Some((_, relative)) = name.trim_start_matches("./").split_once('/') else { continue };
        if relative.is_empty() {
            continue;
        }
        files.insert(relative.to_string(), data.to_vec());
    }
    if files.is_empty() {
        return Err(error("no chart files found".into()));
    }
    Ok(files)
}

/// Packs files under `top/` into a `.tgz` (deterministic: sorted, zero
/// timestamps), for tests and `plumb lock` fixtures.
pub fn pack(top: &str, files: &BTreeMap<String, Vec<u8>>) -> Vec<u8> {
    let mut tar = Vec::new();
    for (path, data) in files {
        let name = format!("{top}/{path}");
        let mut header = [0u8; 512];
        header[..name.len().min(100)].copy_from_slice(&name.as_bytes()[..name.len().min(100)]);
        header[100..108].copy_from_slice(b"0000644\0");
        header[108..116].copy_from_slice(b"0000000\0");
        header[116..124].copy_from_slice(b"0000000\0");
        header[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        header[136..148].copy_from_slice(b"00000000000\0");
        header[156] = b'0';
        header[257..263].copy_from_slice(b"ustar\0");
        header[263..265].copy_from_slice(b"00");
        header[148..156].copy_from_slice(b"        ");
        let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
        header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        tar.extend_from_slice(&header);
        tar.extend_from_slice(data);
        tar.resize(tar.len().div_ceil(512) * 512, 0);
    }
    tar.resize(tar.len() + 1024, 0);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &tar).ok();
    gz.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let mut files = BTreeMap::new();
        files.insert("Chart.yaml".to_string(), b"apiVersion: v2\nname: x\nversion: 1.0.0\n".to_vec());
        files.insert("templates/a.yaml".to_string(), b"kind: A".to_vec());
        let archive = pack("x", &files);
        assert_eq!(unpack("x.tgz", &archive).ok(), Some(files.clone()));
        let mut evil = BTreeMap::new();
        evil.insert("../escape".to_string(), b"x".to_vec());
        assert!(unpack("evil.tgz", &pack("x", &evil)).is_err());
        assert!(unpack("junk.tgz", b"not gzip").is_err());
    }
}
