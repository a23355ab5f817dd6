//! Picking the compute device at run time: `flex` (CPU, always built), `wgpu` and `cuda[:N]`
//! (cargo features). One binary can carry several backends; the user chooses with `--device`.

use std::fmt;
use std::str::FromStr;

use burn::tensor::Device;

use crate::error::{Error, Result};

/// A device the user asked for, before it is created.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum DeviceSpec {
    /// burn's pure-Rust CPU backend (rayon + SIMD). The default.
    #[default]
    Flex,
    /// wgpu (Vulkan/Metal/DX12); the default adapter, or adapter `N` among discrete GPUs.
    Wgpu(Option<usize>),
    /// CUDA device `N`.
    Cuda(usize),
}

impl FromStr for DeviceSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let (name, index) = match s.split_once(':') {
            Some((n, i)) => {
                let i = i.parse::<usize>().map_err(|_| Error::Device {
                    spec: s.to_string(),
                    reason: format!("{i:?} is not a device index"),
                })?;
                (n, Some(i))
            }
            None => (s, None),
        };
        match (name.to_ascii_lowercase().as_str(), index) {
            ("flex" | "cpu", None) => Ok(DeviceSpec::Flex),
            ("wgpu", i) => Ok(DeviceSpec::Wgpu(i)),
            ("cuda", i) => Ok(DeviceSpec::Cuda(i.unwrap_or(0))),
            _ => Err(Error::Device {
                spec: s.to_string(),
                reason: "expected flex, wgpu[:N] or cuda[:N]".into(),
            }),
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceSpec::Flex => write!(f, "flex"),
            DeviceSpec::Wgpu(None) => write!(f, "wgpu"),
            DeviceSpec::Wgpu(Some(i)) => write!(f, "wgpu:{i}"),
            DeviceSpec::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

impl DeviceSpec {
    /// Creates the burn device, or says which cargo feature is missing.
    pub fn device(&self) -> Result<Device> {
        match self {
            DeviceSpec::Flex => Ok(Device::flex()),
            DeviceSpec::Wgpu(index) => wgpu_device(*index).ok_or_else(|| self.not_built("wgpu")),
            DeviceSpec::Cuda(index) => cuda_device(*index).ok_or_else(|| self.not_built("cuda")),
        }
    }

    fn not_built(&self, feature: &str) -> Error {
        Error::Device {
            spec: self.to_string(),
            reason: format!("this binary was built without the `{feature}` cargo feature"),
        }
    }
}

#[cfg(feature = "wgpu")]
fn wgpu_device(index: Option<usize>) -> Option<Device> {
    use burn::tensor::DeviceKind;
    Some(match index {
        None => Device::wgpu(DeviceKind::DefaultDevice),
        Some(i) => Device::wgpu(DeviceKind::DiscreteGpu(i)),
    })
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device(_index: Option<usize>) -> Option<Device> {
    None
}

#[cfg(feature = "cuda")]
fn cuda_device(index: usize) -> Option<Device> {
    Some(Device::cuda(index))
}

#[cfg(not(feature = "cuda"))]
fn cuda_device(_index: usize) -> Option<Device> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_device_names() {
        assert_eq!("flex".parse::<DeviceSpec>().ok(), Some(DeviceSpec::Flex));
        assert_eq!(
            "cuda:1".parse::<DeviceSpec>().ok(),
            Some(DeviceSpec::Cuda(1))
        );
        assert_eq!("cuda".parse::<DeviceSpec>().ok(), Some(DeviceSpec::Cuda(0)));
        assert_eq!(
            "wgpu".parse::<DeviceSpec>().ok(),
            Some(DeviceSpec::Wgpu(None))
        );
        assert!("tpu".parse::<DeviceSpec>().is_err());
        assert!("cuda:x".parse::<DeviceSpec>().is_err());
    }

    #[test]
    fn flex_is_always_available() {
        assert!(DeviceSpec::Flex.device().is_ok());
    }
}
