using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeGuard.Compare;

/// <summary>The machine a run measured on, as far as it can tell without privileges.</summary>
/// <param name="Cpu">The processor's model name.</param>
/// <param name="Cores">Logical processors.</param>
/// <param name="MemoryBytes">Physical memory.</param>
/// <param name="CpuFeatures">The vector extensions the kernels choose between that this CPU has.</param>
internal sealed record MachineInfo(string Cpu, int Cores, long MemoryBytes, string Os, string Runtime, IReadOnlyList<string> CpuFeatures);

/// <summary>When, where, from which code and with which command a run was made.</summary>
/// <param name="Command">The harness's own command line.</param>
/// <param name="Cli">The CLI the children ran.</param>
/// <param name="LoadAverageStart">1, 5 and 15-minute load averages when the run started.</param>
/// <param name="LoadAverageEnd">The same when it ended.</param>
/// <param name="Commit">The checked-out commit, if the run was made in a git work tree.</param>
/// <param name="Dirty">Whether that work tree had uncommitted changes.</param>
internal sealed record RunInfo(
    DateTimeOffset StartedUtc,
    DateTimeOffset FinishedUtc,
    string Command,
    string Cli,
    MachineInfo Machine,
    IReadOnlyList<double> LoadAverageStart,
    IReadOnlyList<double> LoadAverageEnd,
    string? Commit,
    bool? Dirty);

/// <summary>Everything a comparison run produced: the raw child runs and what is derived from them. The JSON file.</summary>
internal sealed record CompareResults(
    int Schema, RunInfo Run, CompareSettings Settings, IReadOnlyList<ModelFile> Models, IReadOnlyList<ChildRun> Runs, ResultSummary Summary)
{
    public const int CurrentSchema = 1;

    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public string ToJson() => JsonSerializer.Serialize(this, Options);

    /// <exception cref="JsonException">Not a results file of this schema.</exception>
    public static CompareResults FromJson(string json)
    {
        var results = JsonSerializer.Deserialize<CompareResults>(json, Options) ?? throw new JsonException("empty results file");
        if (results.Schema != CurrentSchema)
        {
            throw new JsonException($"results schema {results.Schema}; this harness reads schema {CurrentSchema}.");
        }

        return results;
    }
}
