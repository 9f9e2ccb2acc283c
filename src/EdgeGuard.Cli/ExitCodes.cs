namespace EdgeGuard.Cli;

/// <summary>Process exit codes, the same for every command.</summary>
internal static class ExitCodes
{
    /// <summary>Success: nothing flagged, check passed.</summary>
    public const int Ok = 0;

    /// <summary>Something was flagged (classify) or a check failed (verify-fixture).</summary>
    public const int FlaggedOrFailed = 1;

    /// <summary>An error: bad arguments, missing or corrupt files, invalid input.</summary>
    public const int Error = 2;
}
