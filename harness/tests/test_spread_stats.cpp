#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "spread_stats.h"

using namespace vipcheck;

TEST(SpreadStats, ChiSquareSurvivalMatchesTables) {
    // Critical values from standard chi-square tables.
    EXPECT_NEAR(chi_square_survival(3.841, 1), 0.05, 1e-4);
    EXPECT_NEAR(chi_square_survival(6.635, 1), 0.01, 1e-4);
    EXPECT_NEAR(chi_square_survival(18.307, 10), 0.05, 1e-4);
    EXPECT_NEAR(chi_square_survival(15.137, 1), 1e-4, 1e-6);
    EXPECT_NEAR(chi_square_survival(2.0, 2), std::exp(-1.0), 1e-12);  // closed form for dof 2
    EXPECT_DOUBLE_EQ(chi_square_survival(0.0, 3), 1.0);
}

TEST(SpreadStats, NormalQuantile) {
    EXPECT_NEAR(normal_quantile(0.975), 1.959964, 1e-6);
    EXPECT_NEAR(normal_quantile(0.5), 0.0, 1e-12);
    EXPECT_NEAR(normal_quantile(1 - 5e-6), 4.417173, 1e-5);
}

TEST(SpreadStats, WilsonIntervalContainsEstimate) {
    auto [lo, hi] = wilson_interval(50, 100, 1.96);
    EXPECT_NEAR(lo, 0.4038, 1e-3);
    EXPECT_NEAR(hi, 0.5962, 1e-3);
    auto [zlo, zhi] = wilson_interval(0, 100, 1.96);
    EXPECT_DOUBLE_EQ(zlo, 0.0);
    EXPECT_GT(zhi, 0.0);
}

TEST(SpreadStats, EvenSpreadIsConsistent) {
    SpreadTest t = test_spread({1030, 1018}, {}, 1e-5);
    EXPECT_TRUE(t.consistent);
    EXPECT_EQ(t.dof, 1u);
    EXPECT_NEAR(t.chi_square, 144.0 / 2048.0, 1e-9);
    for (const auto& s : t.shares) {
        EXPECT_LT(s.lower, 0.5);
        EXPECT_GT(s.upper, 0.5);
    }
}

TEST(SpreadStats, AllOnOneLbIsRejected) {
    SpreadTest t = test_spread({2048, 0}, {}, 1e-5);
    EXPECT_FALSE(t.consistent);
    EXPECT_LT(t.p_value, 1e-100);
}

TEST(SpreadStats, WeightsShiftTheExpectation) {
    EXPECT_TRUE(test_spread({1500, 500}, {3, 1}, 1e-5).consistent);
    EXPECT_FALSE(test_spread({1000, 1000}, {3, 1}, 1e-5).consistent);
    // A count where the weights say none may arrive cannot be consistent.
    EXPECT_FALSE(test_spread({1000, 1}, {1, 0}, 1e-5).consistent);
}

TEST(SpreadStats, NoFlowsIsNotConsistent) {
    EXPECT_FALSE(test_spread({0, 0}, {}, 1e-5).consistent);
}

TEST(SpreadStats, RejectsBadArguments) {
    EXPECT_THROW(test_spread({}, {}, 1e-5), std::invalid_argument);
    EXPECT_THROW(test_spread({1, 2}, {1}, 1e-5), std::invalid_argument);
    EXPECT_THROW(test_spread({1, 2}, {}, 0.0), std::invalid_argument);
    EXPECT_THROW(test_spread({1, 2}, {-1, 2}, 1e-5), std::invalid_argument);
}

// The false-alarm rate the check states must hold: simulate fair spreads and count
// rejections at alpha = 0.01 (large enough to measure in 20,000 trials).
TEST(SpreadStats, FalseAlarmRateMatchesAlpha) {
    std::mt19937_64 rng(12345);
    const double alpha = 0.01;
    const int trials = 20000;
    int rejected = 0;
    for (int t = 0; t < trials; ++t) {
        std::vector<uint64_t> counts(4, 0);
        std::uniform_int_distribution<int> lb(0, 3);
        for (int f = 0; f < 2048; ++f) ++counts[size_t(lb(rng))];
        if (!test_spread(counts, {}, alpha).consistent) ++rejected;
    }
    // Binomial(20000, 0.01): mean 200, sd 14; 5 sd either side.
    EXPECT_GT(rejected, 130);
    EXPECT_LT(rejected, 270);
}

TEST(SequenceStats, BinomialTwoSidedIsExact) {
    // 10 fair trials: P(X >= 7) = 176/1024, doubled; the all-or-nothing tail is 2/1024.
    EXPECT_NEAR(vipcheck::binomial_two_sided_p(7, 10), 2 * 176.0 / 1024, 1e-12);
    EXPECT_NEAR(vipcheck::binomial_two_sided_p(3, 10), 2 * 176.0 / 1024, 1e-12);
    EXPECT_NEAR(vipcheck::binomial_two_sided_p(0, 10), 2.0 / 1024, 1e-15);
    EXPECT_DOUBLE_EQ(vipcheck::binomial_two_sided_p(5, 10), 1.0);
    EXPECT_DOUBLE_EQ(vipcheck::binomial_two_sided_p(0, 0), 1.0);
    EXPECT_THROW(vipcheck::binomial_two_sided_p(11, 10), std::invalid_argument);
}

TEST(SpreadStats, BinomialLowerTailAgainstClosedForms) {
    // P(X <= 0) = (1 - p)^n; P(X <= 1) adds n p (1 - p)^(n - 1).
    EXPECT_NEAR(vipcheck::binomial_at_most_p(0, 40, 0.25), std::pow(0.75, 40), 1e-15);
    EXPECT_NEAR(vipcheck::binomial_at_most_p(1, 10, 0.25), std::pow(0.75, 10) + 10 * 0.25 * std::pow(0.75, 9), 1e-12);
    EXPECT_DOUBLE_EQ(vipcheck::binomial_at_most_p(10, 10, 0.3), 1.0);
    EXPECT_THROW(vipcheck::binomial_at_most_p(1, 10, 1.5), std::invalid_argument);
}

TEST(SequenceStats, RunLengthLimitIsTheFirstLengthTheUnionBoundAllows) {
    for (uint64_t n : {1u, 10u, 100u, 1000u}) {
        for (double alpha : {0.05, 5e-6}) {
            const uint64_t limit = vipcheck::run_length_limit(n, alpha);
            auto bound = [n](uint64_t l) { return l > n ? 0.0 : double(n - l + 1) * std::pow(2.0, 1.0 - double(l)); };
            EXPECT_LE(bound(limit), alpha) << n << " " << alpha;
            if (limit > 1) {
                EXPECT_GT(bound(limit - 1), alpha) << n << " " << alpha;
            }
        }
    }
    EXPECT_EQ(vipcheck::run_length_limit(100, 5e-6), 25u);  // 76 * 2^-24 = 4.5e-6, 77 * 2^-23 = 9.2e-6
}
