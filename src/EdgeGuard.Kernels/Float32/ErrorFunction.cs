namespace EdgeGuard.Kernels.Float32;

/// <summary>
/// erf and erfc, which .NET does not provide, for the exact GELU. Evaluated in double with W. J. Cody's rational
/// Chebyshev approximations ("Rational Chebyshev approximations for the error function", Math. Comp. 1969, as in
/// SPECFUN CALERF): relative error below 1e-14 over the whole range, so the float result is correctly rounded
/// or one ulp off. Three ranges of |x|: [0, 0.5] erf directly, (0.5, 4] and (4, ∞) erfc times exp(-x²).
/// </summary>
public static class ErrorFunction
{
    /// <summary>1/√π.</summary>
    internal const double InverseSqrtPi = 0.56418958354775628695;

    // erf(x) = x·A(x²)/B(x²) on |x| ≤ 0.5 (A has a leading coefficient A4 applied first).
    internal const double A0 = 3.16112374387056560e00, A1 = 1.13864154151050156e02, A2 = 3.77485237685302021e02;
    internal const double A3 = 3.20937758913846947e03, A4 = 1.85777706184603153e-1;
    internal const double B0 = 2.36012909523441209e01, B1 = 2.44024637934444173e02, B2 = 1.28261652607737228e03;
    internal const double B3 = 2.84423683343917062e03;

    // erfc(x) = exp(-x²)·C(x)/D(x) on 0.5 < x ≤ 4.
    internal const double C0 = 5.64188496988670089e-1, C1 = 8.88314979438837594e00, C2 = 6.61191906371416295e01;
    internal const double C3 = 2.98635138197400131e02, C4 = 8.81952221241769090e02, C5 = 1.71204761263407058e03;
    internal const double C6 = 2.05107837782607147e03, C7 = 1.23033935479799725e03, C8 = 2.15311535474403846e-8;
    internal const double D0 = 1.57449261107098347e01, D1 = 1.17693950891312499e02, D2 = 5.37181101862009858e02;
    internal const double D3 = 1.62138957456669019e03, D4 = 3.29079923573345963e03, D5 = 4.36261909014324716e03;
    internal const double D6 = 3.43936767414372164e03, D7 = 1.23033935480374942e03;

    // erfc(x) = exp(-x²)/x·(1/√π - z·P(z)/Q(z)), z = 1/x², on x > 4.
    internal const double P0 = 3.05326634961232344e-1, P1 = 3.60344899949804439e-1, P2 = 1.25781726111229246e-1;
    internal const double P3 = 1.60837851487422766e-2, P4 = 6.58749161529837803e-4, P5 = 1.63153871373020978e-2;
    internal const double Q0 = 2.56852019228982242e00, Q1 = 1.87295284992346725e00, Q2 = 5.27905102951428412e-1;
    internal const double Q3 = 6.05183413124413191e-2, Q4 = 2.33520497626869185e-3;

    /// <summary>The error function.</summary>
    public static double Erf(double x)
    {
        double y = Math.Abs(x);
        if (y <= 0.5)
        {
            return x * SmallRatio(y * y);
        }

        double erf = 1.0 - ErfcPositive(y);
        return x < 0 ? -erf : erf;
    }

    /// <summary>The complementary error function 1 - erf(x), accurate also where it is tiny.</summary>
    public static double Erfc(double x)
    {
        double y = Math.Abs(x);
        if (y <= 0.5)
        {
            return 1.0 - (x * SmallRatio(y * y));
        }

        double erfc = ErfcPositive(y);
        return x < 0 ? 2.0 - erfc : erfc;
    }

    /// <summary>The error function in float (evaluated in double, rounded once).</summary>
    public static float Erf(float x) => (float)Erf((double)x);

    /// <summary>A(z)/B(z): erf(y) = y·A/B for y ≤ 0.5.</summary>
    internal static double SmallRatio(double z)
    {
        double num = A4 * z, den = z;
        num = (num + A0) * z;
        den = (den + B0) * z;
        num = (num + A1) * z;
        den = (den + B1) * z;
        num = (num + A2) * z;
        den = (den + B2) * z;
        return (num + A3) / (den + B3);
    }

    /// <summary>erfc(y) for y &gt; 0.5.</summary>
    private static double ErfcPositive(double y)
    {
        double ratio;
        if (y <= 4.0)
        {
            double num = C8 * y, den = y;
            num = (num + C0) * y;
            den = (den + D0) * y;
            num = (num + C1) * y;
            den = (den + D1) * y;
            num = (num + C2) * y;
            den = (den + D2) * y;
            num = (num + C3) * y;
            den = (den + D3) * y;
            num = (num + C4) * y;
            den = (den + D4) * y;
            num = (num + C5) * y;
            den = (den + D5) * y;
            num = (num + C6) * y;
            den = (den + D6) * y;
            ratio = (num + C7) / (den + D7);
        }
        else
        {
            double z = 1.0 / (y * y);
            double num = P5 * z, den = z;
            num = (num + P0) * z;
            den = (den + Q0) * z;
            num = (num + P1) * z;
            den = (den + Q1) * z;
            num = (num + P2) * z;
            den = (den + Q2) * z;
            num = (num + P3) * z;
            den = (den + Q3) * z;
            ratio = (InverseSqrtPi - (z * (num + P4) / (den + Q4))) / y;
        }

        return ratio * Math.Exp(-y * y);
    }
}
