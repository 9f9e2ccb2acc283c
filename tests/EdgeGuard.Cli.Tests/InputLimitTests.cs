using System.Text;
using System.Text.Json;
using EdgeGuard.Testing;

namespace EdgeGuard.Cli.Tests;

/// <summary>Limits on what the command line accepts: a number of threads, the length of a JSONL line.</summary>
public sealed class InputLimitTests
{
    private static readonly string DefaultModel = RepoPaths.DefaultModel;

    [Theory]
    [InlineData("100000")]
    [InlineData("257")]
    [InlineData("-1")]
    public void Threads_OutOfRange_IsAUsageErrorNotACrash(string threads)
    {
        var r = CliProcess.Run("classify", "hello", "--model", DefaultModel, "--threads", threads);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal(string.Empty, r.Stdout);
        Assert.StartsWith($"edgeguard: error: --threads {threads} is out of range: give 1 to 256 threads, or 0 for one per processor.", r.Stderr);
    }

    [Fact]
    public void Threads_AtTheMaximum_Classifies()
    {
        var r = CliProcess.Run("classify", "hello", "--model", DefaultModel, "--threads", "256", "--json");
        Assert.True(r.ExitCode is 0 or 1, r.Stderr);
        Assert.InRange(JsonDocument.Parse(r.Stdout).RootElement.GetProperty("unsafe_score").GetDouble(), 0, 1);
    }

    [Fact]
    public void Error_QuotingAHugePath_IsOneLineOfBoundedLength()
    {
        string path = "/nonexistent/" + string.Concat(Enumerable.Repeat("very-long-directory-name/", 400)) + "data.jsonl";
        var r = CliProcess.Run("eval", "--data", path, "--model", DefaultModel);
        Assert.Equal(2, r.ExitCode);
        string line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.InRange(line.Length, 100, "edgeguard: error: ".Length + 1024);
        Assert.StartsWith("edgeguard: error: /nonexistent/very-long-directory-name/", line);
        Assert.EndsWith("very-long-directory-name/data.jsonl: no such file.", line);
    }

    [Fact]
    public void ClassifyJsonl_OverLongNulAndInvalidUtf8Lines_AreErrorLinesAndTheStreamGoesOn()
    {
        var input = new MemoryStream();
        input.Write("{\"prompt\": \"first\"}\n"u8);
        input.Write("{\"prompt\": \""u8);
        input.Write(Encoding.ASCII.GetBytes(new string('a', 16 * 1024 * 1024)));
        input.Write("\"}\n"u8);
        input.Write("{\"prompt\": \"after the long line\"}\n"u8);
        input.Write("{\"prompt\": \"nul\0byte\"}\n"u8);
        input.Write("\0\0\0\n"u8);
        input.Write([(byte)'{', (byte)'"', (byte)'p', 0xFF, 0xFE, (byte)'"', (byte)'}', (byte)'\n']);
        input.Write("{\"prompt\": \"last\"}"u8);

        var r = CliProcess.Run(["classify", "--jsonl", "-", "--model", DefaultModel], input.ToArray(), null, null);
        Assert.Equal(2, r.ExitCode);
        JsonElement[] lines = [.. r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement)];
        Assert.Equal([1, 2, 3, 4, 5, 6, 7], lines.Select(l => l.GetProperty("line").GetInt32()));
        Assert.True(lines[0].TryGetProperty("flagged", out _));
        Assert.Equal("line is longer than 16 MiB (16777216 bytes), the longest line read; skipped", lines[1].GetProperty("error").GetString());
        Assert.True(lines[2].TryGetProperty("flagged", out _));
        Assert.Contains("invalid JSON", lines[3].GetProperty("error").GetString());
        Assert.Contains("invalid JSON", lines[4].GetProperty("error").GetString());
        Assert.Equal("line is not valid UTF-8", lines[5].GetProperty("error").GetString());
        Assert.True(lines[6].TryGetProperty("flagged", out _));
        Assert.Contains("-:2: line is longer than 16 MiB", r.Stderr);
    }

    [Fact]
    public void ClassifyJsonl_OverLongLine_IsNotHeldInMemory()
    {
        // A 160 MiB line under a 128 MiB heap: read whole, it would not fit.
        var input = new MemoryStream();
        input.Write("{\"prompt\": \""u8);
        input.Write(new byte[160 * 1024 * 1024].AsSpan());
        input.Write("\"}\n{\"prompt\": \"next\"}\n"u8);
        var heapLimit = new Dictionary<string, string?> { ["DOTNET_GCHeapHardLimit"] = "0x8000000" };

        var r = CliProcess.Run(["classify", "--jsonl", "-", "--model", DefaultModel], input.ToArray(), null, heapLimit);
        Assert.Equal(2, r.ExitCode);
        string[] lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Contains("longer than 16 MiB", JsonDocument.Parse(lines[0]).RootElement.GetProperty("error").GetString());
        Assert.True(JsonDocument.Parse(lines[1]).RootElement.TryGetProperty("flagged", out _));
    }

    [Fact]
    public void Eval_DataFromAPipe_IsReadOnceAndEvaluated()
    {
        // Counting lines for the progress bar must not drain a pipe (or read /dev/zero forever) before the evaluation reads it.
        byte[] data = "{\"prompt\": \"hello\", \"label\": \"safe\"}\n{\"prompt\": \"bye\", \"label\": \"safe\"}\n"u8.ToArray();
        var r = CliProcess.Run(["eval", "--data", "/dev/stdin", "--model", DefaultModel, "--json"], data, null, null);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal(2, JsonDocument.Parse(r.Stdout).RootElement.GetProperty("n").GetInt32());
    }

    [Fact]
    public void Eval_OverLongLine_IsCountedAsAnErrorAndTheRestAreEvaluated()
    {
        string dir = Directory.CreateTempSubdirectory("edgeguard-cli-limits-").FullName;
        try
        {
            string path = Path.Combine(dir, "data.jsonl");
            using (var file = File.Create(path))
            {
                file.Write("{\"prompt\": \"hello\", \"label\": \"safe\"}\n"u8);
                file.Write(new byte[(16 * 1024 * 1024) + 1]);
                file.Write("\n{\"prompt\": \"bye\", \"label\": \"safe\"}\n"u8);
            }

            var r = CliProcess.Run("eval", "--data", path, "--model", DefaultModel, "--json");
            Assert.Equal(2, r.ExitCode);
            using var doc = JsonDocument.Parse(r.Stdout);
            Assert.Equal(2, doc.RootElement.GetProperty("n").GetInt32());
            Assert.Equal(1, doc.RootElement.GetProperty("errors").GetInt32());
            Assert.Contains("data.jsonl:2: line is longer than 16 MiB", r.Stderr);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
