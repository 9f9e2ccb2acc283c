using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using EdgeGuard.Testing;

namespace EdgeGuard.Native.Tests;

/// <summary>include/edgeguard.h and the C# side of the boundary describe one ABI: constants, structs, functions.</summary>
public sealed partial class HeaderTests
{
    private static readonly string Header = File.ReadAllText(Path.Combine(RepoPaths.RepoRoot, "src", "EdgeGuard.Native", "include", "edgeguard.h"));

    [Fact]
    public void Header_Versions_AreTheLibrarys()
    {
        Assert.Equal(AbiLimits.AbiVersion, (uint)Define("EDGEGUARD_ABI_VERSION"));
        Assert.Equal(AbiLimits.Version, $"{Define("EDGEGUARD_VERSION_MAJOR")}.{Define("EDGEGUARD_VERSION_MINOR")}.{Define("EDGEGUARD_VERSION_PATCH")}");
    }

    [Fact]
    public void Header_Limits_AreTheLibrarys()
    {
        Assert.Equal(AbiLimits.MaxTextBytes, Define("EDGEGUARD_MAX_TEXT_BYTES"));
        Assert.Equal(AbiLimits.MaxPathBytes, Define("EDGEGUARD_MAX_PATH_BYTES"));
        Assert.Equal(AbiLimits.MaxBatchInputs, Define("EDGEGUARD_MAX_BATCH_INPUTS"));
    }

    [Fact]
    public void Header_StatusCodes_AreTheStatusEnum()
    {
        var header = DefinesStartingWith("EDGEGUARD_OK", "EDGEGUARD_ERROR_");
        var managed = Enum.GetValues<Status>().ToDictionary(s => s == Status.Ok ? "EDGEGUARD_OK" : "EDGEGUARD_ERROR_" + Snake(s.ToString()).ToUpperInvariant(), s => (ulong)s);
        Assert.Equal(managed.OrderBy(p => p.Value), header.OrderBy(p => p.Value));
    }

    [Fact]
    public void Header_OpenFlags_AreTheOpenFlagsEnum()
    {
        var header = DefinesStartingWith("EDGEGUARD_OPEN_");
        var managed = Enum.GetValues<OpenFlags>().Where(f => f is not OpenFlags.None and not OpenFlags.Known)
            .ToDictionary(f => "EDGEGUARD_OPEN_" + Snake(f.ToString()).ToUpperInvariant(), f => (ulong)f);
        Assert.Equal(managed.OrderBy(p => p.Value), header.OrderBy(p => p.Value));
    }

    [Theory]
    [InlineData("edgeguard_options", typeof(NativeOptions))]
    [InlineData("edgeguard_input", typeof(NativeInput))]
    [InlineData("edgeguard_verdict", typeof(NativeVerdict))]
    [InlineData("edgeguard_model_info", typeof(NativeModelInfo))]
    public void Header_Struct_HasTheFieldsOfItsManagedTwinInOrder(string name, Type managed)
    {
        var body = Regex.Match(Header, $@"typedef struct {name} \{{(?<body>[^}}]*)\}} {name};").Groups["body"].Value;
        var header = FieldPattern().Matches(body).Select(m => (Name: m.Groups["name"].Value, Size: CSize(m.Groups["type"].Value))).ToList();
        var fields = managed.GetFields(BindingFlags.Instance | BindingFlags.Public)
            .Select(f => (Name: Snake(f.Name), Size: Marshal.SizeOf(f.FieldType))).ToList();
        Assert.NotEmpty(header);
        Assert.Equal(fields, header);
        Assert.Equal(CStructSize(header.Select(f => f.Size)), Marshal.SizeOf(managed));
    }

    [Fact]
    public void Header_Functions_AreWhatTheLibraryExports()
    {
        var header = HeaderFunctions();
        var exported = Regex.Matches(NativeFile("libedgeguard.map"), @"^\s+(?<name>\w+);", RegexOptions.Multiline)
            .Select(m => m.Groups["name"].Value).Where(n => n != "DotNetRuntimeDebugHeader").Order().ToList();
        Assert.Equal(10, header.Count);
        Assert.Equal(header, exported);
    }

    [Fact]
    public void Header_Functions_AreDefinedByTheGateWhichCallsEachManagedEntryPoint()
    {
        string gate = NativeFile("edgeguard_gate.c");
        var defined = FunctionPattern().Matches(gate).Select(m => m.Groups["name"].Value).Order().ToList();
        Assert.Equal(HeaderFunctions(), defined);
        var managed = typeof(Exports).GetMethods(BindingFlags.Static | BindingFlags.Public)
            .Select(m => m.GetCustomAttribute<UnmanagedCallersOnlyAttribute>()?.EntryPoint).OfType<string>().ToList();
        Assert.Equal(6, managed.Count);
        foreach (string entryPoint in managed)
        {
            Assert.StartsWith(Exports.Prefix, entryPoint);
            Assert.Contains(HeaderFunctions(), f => f == "edgeguard_" + entryPoint[Exports.Prefix.Length..]);
            Assert.Matches($@"return [^;]*{entryPoint}\(", gate);
        }
    }

    private static List<string> HeaderFunctions() => FunctionPattern().Matches(Header).Select(m => m.Groups["name"].Value).Order().ToList();

    private static string NativeFile(string name) => File.ReadAllText(Path.Combine(RepoPaths.RepoRoot, "src", "EdgeGuard.Native", "native", name));

    private static ulong Define(string name)
    {
        var value = Regex.Match(Header, $@"^#define {name} (?<value>.+)$", RegexOptions.Multiline).Groups["value"].Value.Trim();
        return Evaluate(value);
    }

    private static Dictionary<string, ulong> DefinesStartingWith(params string[] prefixes) =>
        Regex.Matches(Header, @"^#define (?<name>EDGEGUARD_\w+) (?<value>.+)$", RegexOptions.Multiline)
            .Where(m => prefixes.Any(p => m.Groups["name"].Value.StartsWith(p, StringComparison.Ordinal)))
            .ToDictionary(m => m.Groups["name"].Value, m => Evaluate(m.Groups["value"].Value.Trim()));

    /// <summary>The constant expressions the header uses: <c>7</c>, <c>(1u &lt;&lt; 2)</c>, <c>((size_t)1 &lt;&lt; 28)</c>, <c>((size_t)4096)</c>.</summary>
    private static ulong Evaluate(string value)
    {
        var shift = Regex.Match(value, @"^\(\(?(?:\(size_t\))?(?<a>\d+)u?\s*<<\s*(?<b>\d+)\)$");
        if (shift.Success)
        {
            return ulong.Parse(shift.Groups["a"].Value) << int.Parse(shift.Groups["b"].Value);
        }

        return ulong.Parse(Regex.Match(value, @"^\(*(?:\(size_t\))?(?<n>\d+)\)*$").Groups["n"].Value);
    }

    private static int CSize(string type) => type.Trim() switch
    {
        "uint32_t" or "int32_t" or "float" => 4,
        "size_t" => nint.Size,
        _ when type.Contains('*') => nint.Size,
        _ => throw new InvalidOperationException($"No size for C type '{type}'."),
    };

    /// <summary>What a C compiler makes of fields of these sizes: each aligned to its size, the whole to the largest.</summary>
    private static int CStructSize(IEnumerable<int> sizes)
    {
        int offset = 0, largest = 1;
        foreach (int size in sizes)
        {
            offset = (offset + size - 1) / size * size + size;
            largest = Math.Max(largest, size);
        }

        return (offset + largest - 1) / largest * largest;
    }

    private static string Snake(string pascal) => string.Concat(pascal.Select((c, i) => char.IsUpper(c) && i > 0 && !char.IsUpper(pascal[i - 1]) ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));

    /// <summary>A field line: <c>uint32_t struct_size;</c>, <c>const char *const *labels;</c>.</summary>
    [GeneratedRegex(@"^\s+(?<type>[\w ]+?[\s*]+(?:const\s*\*\s*)?)(?<name>\w+);", RegexOptions.Multiline)]
    private static partial Regex FieldPattern();

    /// <summary>A function declaration or definition at the start of a line: <c>edgeguard_status edgeguard_open(</c>.</summary>
    [GeneratedRegex(@"^(?:const char \*|uint32_t |edgeguard_status )(?<name>edgeguard_(?!managed_)\w+)\(", RegexOptions.Multiline)]
    private static partial Regex FunctionPattern();
}
