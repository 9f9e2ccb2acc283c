namespace EdgeGuard.Kernels.Tests;

/// <summary>Double-precision erf/erfc computed independently of any kernel, for checking GELU.</summary>
internal static class ReferenceErrorFunction
{
    /// <summary>
    /// Independent double reference: the Maclaurin series where it converges without cancellation (|x| &lt; 1),
    /// the continued fraction for erfc elsewhere (accurate to ~1e-16 relative from x = 0.5 on with 2000 terms).
    /// </summary>
    internal static double Erf(double x) => Math.Abs(x) < 1 ? Series(x) : Math.Sign(x) * (1 - ContinuedFractionErfc(Math.Abs(x)));

    internal static double Erfc(double x) => Math.Abs(x) < 1 ? 1 - Series(x) : x > 0 ? ContinuedFractionErfc(x) : 2 - ContinuedFractionErfc(-x);

    private static double Series(double x)
    {
        // erf(x) = 2/√π Σ (-1)ⁿ x^(2n+1) / (n! (2n+1))
        double sum = 0, term = x;
        for (int n = 0; n < 400 && Math.Abs(term) > 1e-300; n++)
        {
            sum += term / ((2 * n) + 1);
            term *= -x * x / (n + 1);
        }

        return 2 / Math.Sqrt(Math.PI) * sum;
    }

    private static double ContinuedFractionErfc(double x)
    {
        // erfc(x) = e^(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated from the back.
        double f = x;
        for (int n = 2000; n >= 1; n--)
        {
            f = x + (n / 2.0 / f);
        }

        return Math.Exp(-x * x) / (Math.Sqrt(Math.PI) * f);
    }
}
