# shellcheck shell=bash
# shellcheck disable=SC2154  # $out is set by the script that sources this one
# Sourced by the GPU-machine scripts (datasets/gpu/train.sh, benches/gpu/run.sh): unpacks the
# carried Vulkan loader packages (.gl/*.deb; the machine has the NVIDIA driver but no loader),
# points the loader at the driver's ICD, and writes the device's name to $out/device.txt.
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
  /etc/vulkan/icd.d/nvidia_icd.json; do
  [ -f "$icd" ] && export VK_DRIVER_FILES=$icd && break
done
echo "Vulkan ICD: ${VK_DRIVER_FILES:-none found}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/device.txt"
