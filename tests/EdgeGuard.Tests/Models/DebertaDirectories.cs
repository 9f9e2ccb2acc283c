using EdgeGuard.ModelFiles;
using EdgeGuard.Models.Deberta;

namespace EdgeGuard.Tests.Models;

/// <summary>The DeBERTa view of a Hugging Face directory that the DeBERTa tests open.</summary>
internal static class DebertaDirectories
{
    extension(HuggingFaceDirectory directory)
    {
        /// <summary>The directory's config, parsed and validated as DeBERTa-v3.</summary>
        public DebertaConfig Config => (DebertaConfig)new DebertaArchitecture().ParseConfig(directory.ConfigJson, directory.ConfigPath);

        /// <summary>Full path of the directory's <c>spm.model</c>, or null.</summary>
        public string? SpmModelPath => directory.FindFile("spm.model");
    }
}
