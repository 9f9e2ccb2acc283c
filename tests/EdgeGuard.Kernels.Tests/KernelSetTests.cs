using EdgeGuard.Kernels;
using EdgeGuard.Kernels.Int8;

namespace EdgeGuard.Kernels.Tests;

public sealed class KernelSetTests
{
    [Fact]
    public void Kernels_ReadTheirChoiceFromTheOneKernelSet()
    {
        Assert.Equal(KernelSet.Int8, Int8Gemm.Selected);
        Assert.True(Int8Gemm.IsSupported(KernelSet.Int8));
        Assert.Contains(KernelSet.Int8.ToString(), KernelSet.Describe());
    }

    [Fact]
    public void ProfileProblem_KernelThisCpuRuns_IsNone() =>
        Assert.Null(KernelSet.ProfileProblem("this-cpu", KernelSet.Int8.ToString()));

    [Fact]
    public void ProfileProblem_ScalarProfile_RunsEverywhere() =>
        Assert.Null(KernelSet.ProfileProblem("generic", nameof(Int8GemmVariant.Scalar)));

    [Fact]
    public void ProfileProblem_KernelThisCpuLacks_NamesProfileKernelAndFix()
    {
        string? problem = KernelSet.ProfileProblem("rpi5", nameof(Int8GemmVariant.AdvSimdDp), variant => variant != Int8GemmVariant.AdvSimdDp);
        Assert.NotNull(problem);
        Assert.Contains("'rpi5'", problem);
        Assert.Contains("AdvSimdDp", problem);
        Assert.Contains("firmware-profiles", problem);
    }

    [Theory]
    [InlineData("Avx1024")]
    [InlineData("")]
    [InlineData("42")]
    public void ProfileProblem_UnknownKernel_IsNamed(string kernel) =>
        Assert.Contains("unknown int8 kernel", KernelSet.ProfileProblem("odd", kernel));
}
