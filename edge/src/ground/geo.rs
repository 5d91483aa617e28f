//! Local east/north metres <-> WGS84 latitude/longitude around a surveyed anchor point.

use serde::Serialize;

use super::GroundError;

/// WGS84 ellipsoid (NIMA TR8350.2).
const WGS84_A: f64 = 6_378_137.0;
const WGS84_E2: f64 = 6.694_379_990_14e-3;

/// The WGS84 position of the ground frame's origin (0 m east, 0 m north).
///
/// Conversion uses the equirectangular (local tangent plane) approximation with the ellipsoid's
/// meridian and prime-vertical radii of curvature at the anchor latitude. The dominant error is
/// the change of the longitude scale with latitude, about `east * north * tan(lat) / R`: below
/// 1 cm within 300 m of the anchor and about 0.1 m at 1 km east and 1 km north at 35° latitude,
/// small against the metre-scale accuracy of a camera homography. Ground axes must be true
/// east/north (not grid or magnetic north).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Wgs84Anchor {
    pub lat: f64,
    pub lon: f64,
    /// Metres per radian of latitude at the anchor (meridian radius of curvature M).
    m_per_rad_lat: f64,
    /// Metres per radian of longitude at the anchor (N cos φ).
    m_per_rad_lon: f64,
}

impl Wgs84Anchor {
    pub fn new(lat: f64, lon: f64) -> Result<Self, GroundError> {
        if !lat.is_finite() || !lon.is_finite() || lat.abs() > 89.9 || lon.abs() > 180.0 {
            // Near the poles the longitude scale collapses; no city camera lives there.
            return Err(GroundError::BadAnchor { lat, lon });
        }
        let phi = lat.to_radians();
        let s2 = phi.sin().powi(2);
        let w = (1.0 - WGS84_E2 * s2).sqrt();
        let n = WGS84_A / w;
        let m = WGS84_A * (1.0 - WGS84_E2) / (w * w * w);
        Ok(Self { lat, lon, m_per_rad_lat: m, m_per_rad_lon: n * phi.cos() })
    }

    /// Local (east, north) metres to (lat, lon) degrees.
    pub fn to_wgs84(&self, east: f64, north: f64) -> (f64, f64) {
        (self.lat + (north / self.m_per_rad_lat).to_degrees(), self.lon + (east / self.m_per_rad_lon).to_degrees())
    }

    /// (lat, lon) degrees to local (east, north) metres.
    pub fn to_local(&self, lat: f64, lon: f64) -> (f64, f64) {
        let mut dlon = lon - self.lon;
        // Wrap across the antimeridian so a site straddling ±180° still works.
        if dlon > 180.0 {
            dlon -= 360.0;
        } else if dlon < -180.0 {
            dlon += 360.0;
        }
        (dlon.to_radians() * self.m_per_rad_lon, (lat - self.lat).to_radians() * self.m_per_rad_lat)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_scale() {
        let a = Wgs84Anchor::new(35.681236, 139.767125).unwrap(); // Tokyo station
        let (lat, lon) = a.to_wgs84(100.0, -50.0);
        let (e, n) = a.to_local(lat, lon);
        assert!((e - 100.0).abs() < 1e-9 && (n + 50.0).abs() < 1e-9);
        // One arc-second of latitude is ~30.8 m at this latitude.
        let (_, n1) = a.to_local(35.681236 + 1.0 / 3600.0, 139.767125);
        assert!((n1 - 30.82).abs() < 0.05, "{n1}");
        assert!(Wgs84Anchor::new(f64::NAN, 0.0).is_err());
        assert!(Wgs84Anchor::new(91.0, 0.0).is_err());
    }
}
