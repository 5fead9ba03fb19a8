// Links between namespaces: veth pairs, each made by one netlink request from a thread in its
// first end's namespace (an `ip link add` forked through the node's shell cost 8 ms a link).
#pragma once

#include <string>
#include <vector>

namespace vipcheck {

struct VethPair {
    std::string netns_a, name_a;  // the first end, made in this namespace
    std::string netns_b, name_b;  // its peer, made directly in that one
};

// Makes every pair, in order; the first refusal (a name taken, a namespace gone) throws, naming
// the pair. Neither end is raised: Lab.bring_up raises every interface.
void add_veth_pairs(const std::vector<VethPair>& pairs);

}  // namespace vipcheck
