// Statistics of a spread: chi-square goodness of fit and per-LB share bounds, and the two tests of
// a sequence of fair binary outcomes (which of two addresses a DNS answer names first).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace vipcheck {

struct ShareEstimate {
    uint64_t count = 0;
    double expected_share = 0;
    double share = 0;
    double lower = 0;   // simultaneous (Bonferroni) Wilson bounds at the test's alpha
    double upper = 0;
};

struct SpreadTest {
    double chi_square = 0;
    unsigned dof = 0;
    double p_value = 1;
    double alpha = 0;        // false-alarm rate: P(reject | the spread really is as expected)
    bool consistent = true;  // p_value >= alpha
    std::vector<ShareEstimate> shares;
};

// Tests counts against shares proportional to weights (all equal when weights is empty).
SpreadTest test_spread(const std::vector<uint64_t>& counts, std::vector<double> weights, double alpha);

// Upper tail of the chi-square distribution: P(X >= x) with dof degrees of freedom.
double chi_square_survival(double x, double dof);

// Inverse of the standard normal CDF.
double normal_quantile(double p);

// Wilson score interval for k successes in n trials at normal quantile z.
std::pair<double, double> wilson_interval(uint64_t k, uint64_t n, double z);

// Exact two-sided p-value of k successes in n fair trials (the binomial distribution, p = 1/2).
double binomial_two_sided_p(uint64_t k, uint64_t n);

// P(X <= k) for X binomial with n trials of success probability p: how unlikely so few successes are.
double binomial_at_most_p(uint64_t k, uint64_t n, double p);

// The smallest run length L such that n fair trials hold a run of L or more equal outcomes with
// probability at most alpha, by the union bound over the run's n - L + 1 starts: (n - L + 1) 2^(1-L).
uint64_t run_length_limit(uint64_t n, double alpha);

}  // namespace vipcheck
