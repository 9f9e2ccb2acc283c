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

    private static DaemonSettings Read(string[] args) => DaemonSettings.Read(Config(args), null);

    private static IConfiguration Config(string[] args) =>
        new ConfigurationBuilder().AddCommandLine(args, new Dictionary<string, string>(DaemonSettings.SwitchMappings)).Build();
}
