using EdgeGuard.Tests.ModelFiles;

namespace EdgeGuard.Tests.GuardApi;

public sealed class DefaultModelTests
{
    [Fact]
    public void Find_InstalledTree_FindsTheModelBesideTheExecutable()
    {
        using var root = new TempDirectory();
        string model = MakeModel(root.Path);
        Assert.Equal(model, DefaultModel.Find(null, null, root.Path));
    }

    [Fact]
    public void Find_ExecutableBuiltInACheckout_FindsTheCheckoutsModel()
    {
        using var root = new TempDirectory();
        File.WriteAllText(root.File("EdgeGuard.sln"), string.Empty);
        string model = MakeModel(root.Path);
        string executable = Directory.CreateDirectory(Path.Combine(root.Path, "src", "EdgeGuard.Cli", "bin", "Release", "net10.0")).FullName;
        Assert.Equal(model, DefaultModel.Find(null, null, executable));
        Assert.Equal(model, DefaultModel.Find(null, null, Directory.CreateDirectory(Path.Combine(root.Path, "artifacts", "publish", "rpi5")).FullName));
    }

    [Fact]
    public void Find_CheckoutMarkerInASharedParent_AdoptsNoInstallation()
    {
        using var shared = new TempDirectory();
        File.WriteAllText(shared.File("EdgeGuard.sln"), string.Empty);
        MakeModel(shared.Path);
        string executable = Directory.CreateDirectory(Path.Combine(shared.Path, "someones-app")).FullName;
        Assert.Null(DefaultModel.Find(null, null, executable));
    }

    [Fact]
    public void Find_GivenModelThenEnvironment_WinOverTheInstallation()
    {
        using var root = new TempDirectory();
        MakeModel(root.Path);
        Assert.Equal("given.gguf", DefaultModel.Find("given.gguf", "env.gguf", root.Path));
        Assert.Equal("env.gguf", DefaultModel.Find(null, "env.gguf", root.Path));
        Assert.Equal("env.gguf", DefaultModel.Find(string.Empty, "env.gguf", root.Path));
    }

    [Fact]
    public void Find_ModelFolderHoldingABundle_FindsTheBundle()
    {
        using var root = new TempDirectory();
        string bundle = Path.Combine(MakeModel(root.Path), DefaultModel.BundleFileName);
        File.WriteAllText(bundle, string.Empty);
        Assert.Equal(bundle, DefaultModel.Find(null, null, root.Path));
    }

    [Fact]
    public void Find_InstalledBundleFile_FindsTheFile()
    {
        using var root = new TempDirectory();
        string bundle = Path.Combine(Directory.CreateDirectory(Path.Combine(root.Path, "models")).FullName, DefaultModel.DirectoryName);
        File.WriteAllText(bundle, string.Empty);
        Assert.Equal(bundle, DefaultModel.Find(null, null, root.Path));
    }

    [Fact]
    public void Find_NoModelAnywhere_IsNull()
    {
        using var root = new TempDirectory();
        Assert.Null(DefaultModel.Find(null, string.Empty, root.Path));
    }

    private static string MakeModel(string root) =>
        Directory.CreateDirectory(Path.Combine(root, "models", DefaultModel.DirectoryName)).FullName;
}
