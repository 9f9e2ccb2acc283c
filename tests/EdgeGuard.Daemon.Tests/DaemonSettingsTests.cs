using EdgeGuard.Daemon.Hosting;
using Microsoft.Extensions.Configuration;

namespace EdgeGuard.Daemon.Tests;

public sealed class DaemonSettingsTests(TinyModels models)
{
    [Fact]
    public void NoArguments_ServeLoopbackPort8088()
    {
        var settings = Read([]);

        Assert.Equal(System.Net.IPAddress.Loopback, settings.Host);
        Assert.Equal(8088, settings.Port);
        Assert.Null(settings.Token);
        Assert.False(settings.LogRequestText);
    }

    [Fact]
    public void CommandLine_SetsLimits()
    {
        var settings = Read(["--port", "9000", "--max-batch", "4", "--max-wait-ms", "7", "--queue", "3", "--deadline-ms", "50", "--socket", "none"]);

        Assert.Equal((9000, 4, 7, 3, 50), (settings.Port, settings.MaxBatch, settings.MaxWaitMs, settings.QueueCapacity, settings.DeadlineMs));
        Assert.Null(settings.Socket);
    }

    [Fact]
    public void BadNumber_NamesTheKeyAndTheRange()
    {
        var e = Assert.Throws<DaemonConfigurationException>(() => Read(["--port", "eighty"]));

        Assert.Contains("EdgeGuard:Port", e.Message);
        Assert.Contains("65535", e.Message);
    }

    [Fact]
    public void TokenFile_IsRead_AndAllowsANonLoopbackHost()
    {
        string file = Path.Combine(models.NewScratch(), "token");
        File.WriteAllText(file, "from-file\n");

        var settings = Read(["--host", "0.0.0.0", "--token-file", file]);

        Assert.Equal("from-file", settings.Token);
        Assert.True(settings.ListensBeyondLoopback);
    }

    [Fact]
    public void Profile_SuppliesBatchingLimits_CommandLineWins()
    {
        string file = Path.Combine(models.NewScratch(), "board.json");
        File.WriteAllText(file, """{"name": "board", "threads": 2, "daemon": {"max_batch": 16, "max_wait_ms": 5, "queue_capacity": 32}}""");
        var profile = FirmwareProfile.Load(file);

        var settings = DaemonSettings.Read(Config(["--max-wait-ms", "9"]), profile);

        Assert.Equal(("board", 2, 16, 9, 32), (settings.Profile, settings.Threads, settings.MaxBatch, settings.MaxWaitMs, settings.QueueCapacity));
    }

    [Fact]
    public void MissingProfile_SaysWhereItLooked()
    {
        var e = Assert.Throws<DaemonConfigurationException>(() => FirmwareProfile.Load("no-such-board"));

        Assert.Contains("firmware-profiles/no-such-board.json", e.Message);
    }

    [Fact]
    public void NoGeneratorArguments_NoGenerator_AndGuardRailDefaults()
    {
        var settings = Read([]);

        Assert.Null(settings.Generator);
        Assert.False(settings.GuardRail.Refuse);
        Assert.Equal(GuardRailSettings.DefaultRefusal, settings.GuardRail.RefusalMessage);
        Assert.Equal(16, settings.GuardRail.EveryTokens);
    }

    [Fact]
    public void CommandLine_SetsTheGeneratorAndItsGuardRails()
    {
        var settings = Read([
            "--generator-model", "b", "--generator-offset-unlearned", "s1", "--generator-offset-original", "s0", "--generator-offset-alpha", "0.5",
            "--generator-context", "512", "--generator-max-tokens", "64", "--generator-prompt-overflow", "keep-end",
            "--guard-rail-policy", "refuse", "--guard-rail-refusal", "No.", "--guard-rail-every", "4"]);

        var g = settings.Generator!;
        Assert.Equal(("b", "s1", "s0", 0.5f, 512, 64, true), (g.Model, g.OffsetUnlearned, g.OffsetOriginal, g.OffsetAlpha, g.Context, g.MaxTokens, g.KeepPromptEnd));
        Assert.Null(g.ContrastAmateur);
        Assert.Equal((true, "No.", 4), (settings.GuardRail.Refuse, settings.GuardRail.RefusalMessage, settings.GuardRail.EveryTokens));
    }

    [Theory]
    [InlineData("--generator-offset-alpha", "strong", "EdgeGuard:Generator:OffsetAlpha")]
    [InlineData("--generator-plausibility", "2", "EdgeGuard:Generator:Plausibility")]
    [InlineData("--generator-prompt-overflow", "drop", "EdgeGuard:Generator:PromptOverflow")]
    [InlineData("--generator-max-tokens", "0", "EdgeGuard:Generator:MaxTokens")]
    [InlineData("--generator-contrast-amateur", "t", "not both")]
    public void BadGeneratorSetting_NamesTheKey(string option, string value, string expected)
    {
        var e = Assert.Throws<DaemonConfigurationException>(() => Read([
            "--generator-model", "b", "--generator-offset-unlearned", "s1", "--generator-offset-original", "s0", option, value]));

        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void PartnersWithoutAGeneratorModel_AreRefused()
    {
        var e = Assert.Throws<DaemonConfigurationException>(() => Read(["--generator-contrast-amateur", "t"]));

        Assert.Contains("--generator-model", e.Message);
    }

    private static DaemonSettings Read(string[] args) => DaemonSettings.Read(Config(args), null);

    private static IConfiguration Config(string[] args) =>
        new ConfigurationBuilder().AddCommandLine(args, new Dictionary<string, string>(DaemonSettings.SwitchMappings)).Build();
}
