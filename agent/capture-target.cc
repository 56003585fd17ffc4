// SPDX-License-Identifier: GPL-2.0-or-later
#include "agent/capture-target.h"

#include <blkid/blkid.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <thread>
#include <vector>

#include "agent/capture-system.h"

namespace salvage {

namespace {

bool iequal(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::vector<std::string> block_devices() {
  std::vector<std::string> out;
  DIR* d = ::opendir("/sys/class/block");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.empty() || n[0] == '.') continue;
    // ram and loop devices are never a dump target in a capture kernel.
    if (n.rfind("ram", 0) == 0 || n.rfind("loop", 0) == 0) continue;
    out.push_back("/dev/" + n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string lookup(blkid_probe pr, const char* name) {
  const char* v = nullptr;
  size_t len = 0;
  if (blkid_probe_lookup_value(pr, name, &v, &len) != 0 || !v) return "";
  std::string s(v, len);
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

std::string describe(const std::string& dev, const BlockIds& ids) {
  std::string s = dev;
  if (!ids.label.empty()) s += " LABEL=" + ids.label;
  if (!ids.partlabel.empty()) s += " PARTLABEL=" + ids.partlabel;
  if (!ids.uuid.empty()) s += " UUID=" + ids.uuid;
  if (!ids.partuuid.empty()) s += " PARTUUID=" + ids.partuuid;
  return s;
}

}  // namespace

bool target_matches(const TargetSpec& t, const std::string& dev, const BlockIds& ids) {
  switch (t.kind) {
    case TargetSpec::Kind::kPath: return dev == t.value;
    case TargetSpec::Kind::kLabel:
      return (!ids.label.empty() && ids.label == t.value) || (!ids.partlabel.empty() && ids.partlabel == t.value);
    case TargetSpec::Kind::kUuid: return !ids.uuid.empty() && iequal(ids.uuid, t.value);
    case TargetSpec::Kind::kPartUuid: return !ids.partuuid.empty() && iequal(ids.partuuid, t.value);
    case TargetSpec::Kind::kNet: return false;  // not a block device (agent/capture-net.h)
  }
  return false;
}

Result<BlockIds> probe_block_ids(const std::string& dev) {
  blkid_probe pr = blkid_new_probe_from_filename(dev.c_str());
  if (!pr) return Error::from_errno("libblkid: cannot open " + dev);
  blkid_probe_enable_superblocks(pr, 1);
  blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_LABEL | BLKID_SUBLKS_UUID | BLKID_SUBLKS_TYPE);
  blkid_probe_enable_partitions(pr, 1);
  blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
  int rc = blkid_do_safeprobe(pr);  // 1: nothing found, -2: ambiguous; both leave partition values
  BlockIds ids;
  if (rc == 0 || rc == 1 || rc == -2) {
    ids.label = lookup(pr, "LABEL");
    ids.uuid = lookup(pr, "UUID");
    ids.partuuid = lookup(pr, "PART_ENTRY_UUID");
    ids.partlabel = lookup(pr, "PART_ENTRY_NAME");
  }
  blkid_free_probe(pr);
  if (rc == -1) return make_error("libblkid: probing " + dev + " failed");
  return ids;
}

Result<std::string> wait_for_target(const TargetSpec& t, double wait_s) {
  const double deadline = agent_uptime() + wait_s;
  std::string seen;
  for (unsigned round = 0;; ++round) {
    if (t.kind == TargetSpec::Kind::kPath) {
      struct stat st {};
      if (::stat(t.value.c_str(), &st) == 0 && (S_ISBLK(st.st_mode) || S_ISREG(st.st_mode))) return t.value;
      seen = "no such block device";
    } else {
      seen.clear();
      for (const auto& dev : block_devices()) {
        auto ids = probe_block_ids(dev);
        if (!ids.ok()) continue;  // a device that vanished or cannot be read yet
        if (target_matches(t, dev, *ids)) return dev;
        seen += (seen.empty() ? "" : "; ") + describe(dev, *ids);
      }
      if (seen.empty()) seen = "no block devices";
    }
    if (agent_uptime() >= deadline) break;
    if (round % 25 == 0) agent_say("waiting for %s (%.0f s left)", t.device_spec().c_str(), deadline - agent_uptime());
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return make_error(t.device_spec() + " did not appear within " + std::to_string(static_cast<int>(wait_s)) +
                    " s (seen: " + seen + ")");
}

}  // namespace salvage
