//! A generated bus drive for the road-damage tests: a top-down road video with painted damage (which the
//! fixture model in models/fixtures finds), the drive's NMEA log and its accelerometer log.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub const W: u32 = 320;
pub const H: u32 = 320;
/// Top-down camera: 40 px per metre, ground x in [-4, 4] m (right), y in [2, 10] m ahead of the antenna.
pub const PX_PER_M: f64 = 40.0;
pub const FPS: u32 = 10;
pub const SPEED: f64 = 5.0;
pub const ROUTE_M: f64 = 100.0;
pub const LAT0: f64 = 35.6074;
pub const LON0: f64 = 140.1065;

pub struct Damage {
    pub north: f64,
    pub east: f64,
    pub size: f64,
    pub rgb: [u8; 3],
    pub class: &'static str,
}

pub fn street() -> Vec<Damage> {
    vec![
        Damage { north: 30.0, east: 0.5, size: 0.5, rgb: [10, 10, 10], class: "D40" },
        Damage { north: 50.0, east: -1.5, size: 0.6, rgb: [20, 200, 20], class: "D10" },
        Damage { north: 70.0, east: 1.0, size: 0.7, rgb: [220, 20, 20], class: "D00" },
    ]
}

pub fn frames() -> u32 {
    ((ROUTE_M / SPEED + 1.0) * f64::from(FPS)) as u32
}

/// Renders the drive to an AVI (MJPEG) with GStreamer.
pub fn render_video(dir: &Path, name: &str, damage: &[Damage]) -> PathBuf {
    let fdir = dir.join(format!("{name}-frames"));
    std::fs::create_dir_all(&fdir).unwrap();
    for i in 0..frames() {
        let north = (SPEED * f64::from(i) / f64::from(FPS)).min(ROUTE_M);
        let img = image::RgbImage::from_fn(W, H, |px, py| {
            let x = (f64::from(px) + 0.5 - f64::from(W) / 2.0) / PX_PER_M;
            let y = 2.0 + (f64::from(H) - f64::from(py) - 0.5) / PX_PER_M;
            let (e, n) = (x, north + y);
            for d in damage {
                if (e - d.east).abs() < d.size / 2.0 && (n - d.north).abs() < d.size / 2.0 {
                    return image::Rgb(d.rgb);
                }
            }
            // Dashed white lane line at x = -3 m, and asphalt with a little texture.
            if (x + 3.0).abs() < 0.08 && (n % 6.0) < 3.0 {
                return image::Rgb([235, 235, 235]);
            }
            let t = ((e * 7.3).sin() * (n * 5.1).cos() * 6.0) as i16;
            let g = (128 + t) as u8;
            image::Rgb([g, g, g])
        });
        img.save(fdir.join(format!("f{i:05}.png"))).unwrap();
    }
    encode_png_frames(&fdir, FPS, &dir.join(format!("{name}.avi")))
}

/// Encodes `fdir/f00000.png…` to an MJPEG AVI at `out` with GStreamer (generated test videos).
pub fn encode_png_frames(fdir: &Path, fps: u32, out: &Path) -> PathBuf {
    let st = Command::new("gst-launch-1.0")
        .arg("-q")
        .args(["multifilesrc", &format!("location={}/f%05d.png", fdir.display()), "index=0"])
        .arg(format!("caps=image/png,framerate={fps}/1"))
        .args(["!", "pngdec", "!", "videoconvert", "!", "jpegenc", "quality=95", "!", "avimux", "!", "filesink"])
        .arg(format!("location={}", out.display()))
        .status()
        .expect("gst-launch-1.0");
    assert!(st.success(), "could not encode {}", out.display());
    out.to_path_buf()
}

pub fn nmea_sentence(body: &str) -> String {
    let cs = body.bytes().fold(0u8, |a, b| a ^ b);
    format!("${body}*{cs:02X}\r\n")
}

pub fn ddmm(v: f64, width: usize) -> String {
    let deg = v.abs().floor();
    let min = (v.abs() - deg) * 60.0;
    format!("{:0width$}{:07.4}", deg as u32, min, width = width)
}

/// The drive's NMEA log: RMC + GGA at 10 Hz, heading north at SPEED.
pub fn nmea_log(dir: &Path) -> PathBuf {
    let mut s = String::new();
    let m_per_deg_lat = 110_950.0;
    for i in 0..=(frames() + 10) {
        let t = f64::from(i) / 10.0;
        let north = (SPEED * t).min(ROUTE_M);
        let lat = LAT0 + north / m_per_deg_lat;
        let secs = 3600.0 + t; // 01:00:00.0 UTC onwards
        let hms = format!("{:02}{:02}{:05.2}", (secs / 3600.0) as u32, ((secs % 3600.0) / 60.0) as u32, secs % 60.0);
        let (la, lo) = (ddmm(lat, 2), ddmm(LON0, 3));
        let knots = SPEED / 0.514_444;
        s += &nmea_sentence(&format!("GPRMC,{hms},A,{la},N,{lo},E,{knots:.2},0.0,251126,,,A"));
        s += &nmea_sentence(&format!("GPGGA,{hms},{la},N,{lo},E,1,10,0.8,12.0,M,39.0,M,,"));
    }
    let p = dir.join("drive.nmea");
    std::fs::write(&p, s).unwrap();
    p
}

/// Where the simulated pothole (felt through the suspension) is: the same place as the painted one.
pub const POTHOLE_NORTH_M: f64 = 30.0;
pub const SEGMENT_M: f64 = 40.0;

/// The drive's accelerometer log (`t_s,ax,ay,az` at 100 Hz, gravity included): the golden car over a
/// generated ISO 8608 class C road with a 5 cm pothole, and the road's true IRI per segment.
pub fn accel_log(dir: &Path) -> (PathBuf, Vec<f64>) {
    use kaiteki::roughness::calibration::plan_road;
    use kaiteki::roughness::profile::{inject_pothole, Iso8608Class};
    use kaiteki::roughness::quarter_car::{iri_segments, simulate_ride, QuarterCar};
    let (mut road, _) = plan_road(Iso8608Class::C, 11, ROUTE_M + 30.0, SEGMENT_M);
    inject_pothole(&mut road, POTHOLE_NORTH_M, 0.05, 0.5);
    let truth = iri_segments(&road.heights_m, road.dx_m, SEGMENT_M);
    let ride = simulate_ride(&QuarterCar::GOLDEN, &road, SPEED, 100.0);
    let mut s = String::new();
    for (k, a) in ride.accel_mps2.iter().enumerate() {
        if ride.distance_m(k) > ROUTE_M {
            break;
        }
        s += &format!("{:.3},0.0,0.0,{:.5}\n", ride.time_s(k), a + 9.806_65);
    }
    let p = dir.join("accel.csv");
    std::fs::write(&p, s).unwrap();
    (p, truth)
}


/// `[cameras.<camera>.road_damage]` calibration points of the generated drive's camera.
pub fn calibration_points() -> String {
    let cal = |x: f64, y: f64| format!("{{ image = [{}, {}], ground = [{x}, {y}] }}", f64::from(W) / 2.0 + x * PX_PER_M, f64::from(H) - (y - 2.0) * PX_PER_M);
    format!("[{}, {}, {}, {}]", cal(-4.0, 2.0), cal(4.0, 2.0), cal(4.0, 10.0), cal(-4.0, 10.0))
}
