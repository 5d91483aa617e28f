//! Why a calibration, a zone or a coordinate conversion was refused.

/// Errors from building a ground plane or a ground polygon. Messages name the offending input so
/// an installer can fix the configuration without reading code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GroundError {
    #[error("calibration needs at least 4 image<->ground point pairs, got {0}")]
    TooFewPoints(usize),
    #[error("calibration point {index} has a non-finite coordinate")]
    NonFinite { index: usize },
    #[error("calibration points {a} and {b} are duplicates in {space} coordinates")]
    Duplicate { a: usize, b: usize, space: &'static str },
    #[error("calibration points are (nearly) collinear in {space} coordinates: no 4 of them span a plane; spread them over the scene")]
    Collinear { space: &'static str },
    #[error("homography is singular or ill-conditioned (condition proxy {0:.3e}); check that image and ground points correspond")]
    Singular(f64),
    #[error("calibration maps some calibration points behind the camera horizon (point {index}); image and ground points are probably mismatched")]
    BehindHorizon { index: usize },
    #[error("polygon needs at least 3 vertices, got {0}")]
    PolygonTooFewVertices(usize),
    #[error("polygon vertex {index} is not finite")]
    PolygonNonFinite { index: usize },
    #[error("polygon has (near) zero area")]
    PolygonDegenerate,
    #[error("polygon edges {a} and {b} cross each other (self-intersecting polygon)")]
    PolygonSelfIntersecting { a: usize, b: usize },
    #[error("image-space polygon vertex {index} projects behind the horizon; move it below the horizon line")]
    PolygonVertexBeyondHorizon { index: usize },
    #[error("anchor latitude/longitude out of range or not finite: lat {lat}, lon {lon}")]
    BadAnchor { lat: f64, lon: f64 },
}
