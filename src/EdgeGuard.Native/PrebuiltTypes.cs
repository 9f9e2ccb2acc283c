using System.Text.Json.Serialization;

namespace EdgeGuard.Native;

/// <summary>
/// Array types the runtime would otherwise build while the first model opens: System.Text.Json's source-generated
/// config readers look up polymorphism attributes through reflection, which asks for arrays of these attribute types.
/// NativeAOT compiles an array type in only when code creates one; else its type loader builds it at run time into
/// memory it never frees, which leak checkers (Valgrind memcheck) report as lost. Creating them here compiles them in.
/// </summary>
internal static class PrebuiltTypes
{
    /// <summary>One array of each type; <c>edgeguard_open</c> keeps this alive so that the build includes it.</summary>
    public static readonly Array[] Arrays = [Array.Empty<JsonPolymorphicAttribute>(), Array.Empty<JsonDerivedTypeAttribute>()];
}
