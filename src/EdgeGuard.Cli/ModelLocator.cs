using EdgeGuard.ModelFiles;

namespace EdgeGuard.Cli;

/// <summary>The model a command uses: <c>--model</c>, else <see cref="DefaultModel"/>, else a clear error.</summary>
internal static class ModelLocator
{
    public static string Resolve(string? explicitModel) =>
        DefaultModel.Find(explicitModel)
        ?? throw new ModelFileException(
            $"no model given and no default model found ({DefaultModel.ExpectedPath} is not there; the working directory is not searched). Pass --model <bundle.gguf or Hugging Face directory>, or set {DefaultModel.EnvironmentVariable}.");
}
