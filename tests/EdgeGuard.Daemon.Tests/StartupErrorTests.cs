namespace EdgeGuard.Daemon.Tests;

/// <summary>
/// Configuration the daemon cannot start with, against <c>edgeguardd</c> as its own process: exit code 2 and one line on
/// standard error, never an abort with a stack trace (which systemd's Restart=on-failure would turn into a loop).
/// </summary>
public sealed class StartupErrorTests(TinyModels models)
{
    private static readonly TimeSpan ExitLimit = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("socket in an unwritable directory", "socket")]
    [InlineData("socket path over the 107 bytes of sun_path", "path")]
    [InlineData("token file that does not exist", "/nonexistent")]
    [InlineData("token file that is a FIFO", "token")]
    [InlineData("IPv4-mapped IPv6 host", "::ffff:127.0.0.1")]
    [InlineData("host address not on this machine", "192.0.2.10")]
    [InlineData("token over 1024 bytes", "token")]
    [InlineData("token with a character a header cannot carry", "token")]
    [InlineData("firmware profile whose int8 kernel this CPU lacks", "int8 kernel")]
    [InlineData("generator model that does not exist", "EdgeGuard:Generator")]
    [InlineData("generator model that is a sequence classifier", "not a decoder")]
    [InlineData("offset partner without its original", "OffsetOriginal")]
    [InlineData("guard-rail policy that does not exist", "GuardRail:Policy")]
    public void ConfigurationError_ExitsWith2AndOneLine(string what, string detail)
    {
        string scratch = models.NewScratch();
        string socket = Path.Combine(scratch, "edgeguardd.sock");
        string[] args = what switch
        {
            "socket in an unwritable directory" => ["--port", "-1", "--socket", UnwritableSocketPath(scratch)],
            "socket path over the 107 bytes of sun_path" => ["--port", "-1", "--socket", Path.Combine(scratch, new string('s', 110) + ".sock")],
            "token file that does not exist" => ["--port", "0", "--socket", "none", "--token-file", detail],
            "token file that is a FIFO" => ["--port", "0", "--socket", "none", "--token-file", ModelLoadFailureTests.MakeFifo(scratch, "token")],
            "IPv4-mapped IPv6 host" or "host address not on this machine" => ["--port", "0", "--socket", "none", "--host", detail, "--token", "t0ken"],
            "token over 1024 bytes" => ["--port", "0", "--socket", "none", "--token", new string('t', 1025)],
            "firmware profile whose int8 kernel this CPU lacks" => ["--port", "0", "--socket", "none", "--profile", ProfileThisCpuCannotRun(scratch)],
            "generator model that does not exist" => ["--port", "0", "--socket", "none", "--generator-model", Path.Combine(scratch, "no-such-model")],
            "generator model that is a sequence classifier" => ["--port", "0", "--socket", "none", "--generator-model", models.HfDir],
            "offset partner without its original" => ["--port", "0", "--socket", "none", "--generator-model", models.ChatModelDir, "--generator-offset-unlearned", models.ChatModelDir],
            "guard-rail policy that does not exist" => ["--port", "0", "--socket", "none", "--guard-rail-policy", "block"],
            _ => ["--port", "0", "--socket", "none", "--token", "pässwort"],
        };

        using var daemon = DaemonProcess.StartWith(socket, ["--model", models.BundlePath, .. args]);

        Assert.True(daemon.WaitForExit(ExitLimit), $"{what}: still running after {ExitLimit.TotalSeconds} s\n{daemon.Output}");
        Assert.True(daemon.ExitCode == 2, $"{what}: exit {daemon.ExitCode}\n{daemon.Output}");
        string[] errorLines = daemon.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(errorLines.Length == 1, $"{what}: standard error has {errorLines.Length} lines\n{daemon.Output}");
        Assert.StartsWith("edgeguardd: ", errorLines[0]);
        Assert.Contains(detail, errorLines[0], StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("   at ", daemon.Output);
    }

    /// <summary>A firmware profile naming an int8 kernel this CPU cannot run (every CPU lacks one: x86 has no NEON, Arm no AVX).</summary>
    private static string ProfileThisCpuCannotRun(string scratch)
    {
        var lacking = Enum.GetValues<Kernels.Int8.Int8GemmVariant>().First(v => !Kernels.Int8.Int8Gemm.IsSupported(v));
        string path = Path.Combine(scratch, "other-board.json");
        File.WriteAllText(path, $$"""{"name": "other-board", "int8Kernel": "{{lacking}}", "threads": 2}""");
        return path;
    }

    /// <summary>A directory the daemon cannot create its socket in, even as root (where modes do not stop it).</summary>
    private static string UnwritableSocketPath(string scratch)
    {
        if (Environment.IsPrivilegedProcess)
        {
            // sysfs refuses new files to everyone.
            return "/sys/edgeguardd-test.sock";
        }

        string dir = Directory.CreateDirectory(Path.Combine(scratch, "read-only")).FullName;
        File.SetUnixFileMode(dir, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        return Path.Combine(dir, "edgeguardd.sock");
    }
}
