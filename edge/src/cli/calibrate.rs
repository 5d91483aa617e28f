//! `kaiteki calibrate --pair X,Y=E,N …`: fits the image→ground homography from point pairs (pixels to
//! metres east/north), prints it with its reprojection error and a config snippet to paste.

use std::process::ExitCode;

use anyhow::{bail, Context};

use kaiteki::ground::{calibrate, AnchorConfig, CalibrationConfig, CalibrationPoint};

#[derive(clap::Args)]
pub struct CalibrateArgs {
    /// One image↔ground correspondence: `X,Y=E,N` (pixel column,row = metres east,north). At least 4,
    /// spread over the area of interest and not collinear.
    #[arg(long = "pair", required = true)]
    pairs: Vec<String>,
    /// WGS84 position of the ground origin: `LAT,LON` (optional; enables latitude/longitude in events).
    #[arg(long)]
    anchor: Option<String>,
    /// Camera id to use in the printed snippet.
    #[arg(long, default_value = "CAMERA")]
    camera: String,
}

fn two(s: &str, what: &str) -> anyhow::Result<[f64; 2]> {
    let (a, b) = s.split_once(',').with_context(|| format!("{what} `{s}`: expected two numbers separated by a comma"))?;
    let parse = |v: &str| -> anyhow::Result<f64> {
        let x: f64 = v.trim().parse().with_context(|| format!("{what} `{s}`: `{v}` is not a number"))?;
        if !x.is_finite() {
            bail!("{what} `{s}`: `{v}` is not finite");
        }
        Ok(x)
    };
    Ok([parse(a)?, parse(b)?])
}

pub fn calibrate_cmd(a: CalibrateArgs) -> anyhow::Result<ExitCode> {
    let mut points = Vec::new();
    for p in &a.pairs {
        let (img, gnd) = p.split_once('=').with_context(|| format!("--pair `{p}`: expected X,Y=E,N"))?;
        points.push(CalibrationPoint { image: two(img, "image point")?, ground: two(gnd, "ground point")? });
    }
    let anchor = match &a.anchor {
        Some(s) => {
            let [lat, lon] = two(s, "--anchor")?;
            if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
                bail!("--anchor {s}: latitude must be within ±90 and longitude within ±180");
            }
            Some(AnchorConfig { lat, lon })
        }
        None => None,
    };
    let cfg = CalibrationConfig { points, anchor };
    let (plane, rep) = calibrate(&cfg).map_err(|e| anyhow::anyhow!("cannot calibrate: {e}"))?;
    println!("homography, image pixels -> ground metres (east, north):");
    for row in plane.h.iter() {
        println!("  [{:>14.8} {:>14.8} {:>14.8}]", row[0], row[1], row[2]);
    }
    println!(
        "reprojection error over {} points: {:.3} m RMS, {:.3} m max (worst: pair {}); {:.2} px RMS, {:.2} px max",
        rep.points,
        rep.ground_rms_m,
        rep.ground_max_m,
        rep.worst_point + 1,
        rep.image_rms_px,
        rep.image_max_px
    );
    println!("\n# paste into the config:\n[cameras.{}.analytics.calibration]", a.camera);
    let pts: Vec<String> = cfg
        .points
        .iter()
        .map(|p| format!("  {{ image = [{}, {}], ground = [{}, {}] }}", p.image[0], p.image[1], p.ground[0], p.ground[1]))
        .collect();
    println!("points = [\n{},\n]", pts.join(",\n"));
    if let Some(an) = &cfg.anchor {
        println!("anchor = {{ lat = {}, lon = {} }}", an.lat, an.lon);
    }
    Ok(ExitCode::SUCCESS)
}
