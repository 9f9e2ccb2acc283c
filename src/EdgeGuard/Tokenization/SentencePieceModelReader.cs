using System.Text;
using EdgeGuard.ModelFiles;

namespace EdgeGuard.Tokenization;

/// <summary>
/// Parses a SentencePiece <c>ModelProto</c> (<c>spm.model</c>, <c>tokenizer.model</c>) and checks that it is a model of
/// the expected type (Unigram for DeBERTa-v3, BPE for Llama 2 / TinyLlama) this runtime can encode with exactly as
/// SentencePiece does. Anything else, including input that is
/// not a protobuf at all, fails with a one-line <see cref="ModelFileException"/>.
/// </summary>
internal static class SentencePieceModelReader
{
    // Field numbers from sentencepiece_model.proto.
    private const int ModelPiecesField = 1;
    private const int ModelTrainerSpecField = 2;
    private const int ModelNormalizerSpecField = 3;
    private const int ModelDenormalizerSpecField = 5;

    private const int PieceTextField = 1;
    private const int PieceScoreField = 2;
    private const int PieceTypeField = 3;

    private const int TrainerModelTypeField = 3;
    private const int TrainerTreatWhitespaceAsSuffixField = 24;
    private const int TrainerByteFallbackField = 35;
    private const int TrainerUnkIdField = 40;
    private const int TrainerBosIdField = 41;
    private const int TrainerEosIdField = 42;
    private const int TrainerUnkSurfaceField = 44;

    private const int NormalizerNameField = 1;
    private const int NormalizerCharsMapField = 2;
    private const int NormalizerAddDummyPrefixField = 3;
    private const int NormalizerRemoveExtraWhitespacesField = 4;
    private const int NormalizerEscapeWhitespacesField = 5;

    private static readonly TrainerSpec DefaultTrainerSpec =
        new(TrainerSpec.UnigramModelType, ByteFallback: false, UnkId: 0, TreatWhitespaceAsSuffix: false, TrainerSpec.DefaultUnkSurface);

    private static readonly NormalizerSpec DefaultNormalizerSpec =
        new(string.Empty, [], AddDummyPrefix: true, RemoveExtraWhitespaces: true, EscapeWhitespaces: true);

    /// <summary>Reads and validates a model of <paramref name="modelType"/> (<see cref="TrainerSpec.UnigramModelType"/> or <see cref="TrainerSpec.BpeModelType"/>).</summary>
    /// <exception cref="ModelFileException">The bytes are not a usable SentencePiece model of that type.</exception>
    public static SentencePieceModel Read(ReadOnlySpan<byte> modelProto, int modelType = TrainerSpec.UnigramModelType)
    {
        if (modelProto.IsEmpty)
        {
            throw new ModelFileException("Not a SentencePiece model: the input is empty.");
        }

        var pieces = new List<ModelPiece>();
        TrainerSpec trainer = DefaultTrainerSpec;
        NormalizerSpec normalizer = DefaultNormalizerSpec;
        bool hasDenormalizerRules = false;
        bool hasTrainerSpec = false;
        bool hasNormalizerSpec = false;

        var reader = new ProtobufReader(modelProto, "ModelProto");
        while (reader.TryReadTag(out int field, out var wireType))
        {
            switch (field)
            {
                case ModelPiecesField:
                    pieces.Add(ReadPiece(reader.ReadBytes(field, wireType), pieces.Count));
                    break;
                case ModelTrainerSpecField:
                    // proto2 merges repeated occurrences of a singular message field.
                    trainer = ReadTrainerSpec(reader.ReadBytes(field, wireType), trainer);
                    hasTrainerSpec = true;
                    break;
                case ModelNormalizerSpecField:
                    normalizer = ReadNormalizerSpec(reader.ReadBytes(field, wireType), normalizer, "NormalizerSpec");
                    hasNormalizerSpec = true;
                    break;
                case ModelDenormalizerSpecField:
                    var denormalizer = ReadNormalizerSpec(reader.ReadBytes(field, wireType), DefaultNormalizerSpec, "DenormalizerSpec");
                    hasDenormalizerRules |= denormalizer.PrecompiledCharsMap.Length > 0;
                    break;
                default:
                    reader.SkipField(wireType);
                    break;
            }
        }

        if (pieces.Count == 0)
        {
            throw new ModelFileException("Not a SentencePiece model: it contains no pieces.");
        }

        // SentencePiece writes both specs after the pieces, so a file cut short usually loses them; without
        // this check a truncated file would load with default options and encode differently.
        if (!hasTrainerSpec || !hasNormalizerSpec)
        {
            throw new ModelFileException(
                $"Corrupt SentencePiece model: {(hasTrainerSpec ? "normalizer_spec" : "trainer_spec")} is missing (truncated file?).");
        }

        var model = new SentencePieceModel(pieces, trainer, normalizer, hasDenormalizerRules);
        Validate(model, modelType);
        return model;
    }

    private static ModelPiece ReadPiece(ReadOnlySpan<byte> message, int index)
    {
        byte[] text = [];
        float score = 0f;
        int type = (int)SentencePieceType.Normal;
        var reader = new ProtobufReader(message, $"piece {index}");
        while (reader.TryReadTag(out int field, out var wireType))
        {
            switch (field)
            {
                case PieceTextField:
                    text = reader.ReadBytes(field, wireType).ToArray();
                    break;
                case PieceScoreField:
                    score = reader.ReadFloat(field, wireType);
                    break;
                case PieceTypeField:
                    type = reader.ReadInt32(field, wireType);
                    break;
                default:
                    reader.SkipField(wireType);
                    break;
            }
        }

        if (type is < (int)SentencePieceType.Normal or > (int)SentencePieceType.Byte)
        {
            throw new ModelFileException($"Corrupt SentencePiece model: piece {index} has unknown type {type}.");
        }

        if (text.Length == 0)
        {
            throw new ModelFileException($"Corrupt SentencePiece model: piece {index} is empty.");
        }

        return new ModelPiece(text, score, (SentencePieceType)type);
    }

    private static TrainerSpec ReadTrainerSpec(ReadOnlySpan<byte> message, TrainerSpec spec)
    {
        var reader = new ProtobufReader(message, "TrainerSpec");
        while (reader.TryReadTag(out int field, out var wireType))
        {
            spec = field switch
            {
                TrainerModelTypeField => spec with { ModelType = reader.ReadInt32(field, wireType) },
                TrainerByteFallbackField => spec with { ByteFallback = reader.ReadBool(field, wireType) },
                TrainerUnkIdField => spec with { UnkId = reader.ReadInt32(field, wireType) },
                TrainerBosIdField => spec with { BosId = reader.ReadInt32(field, wireType) },
                TrainerEosIdField => spec with { EosId = reader.ReadInt32(field, wireType) },
                TrainerTreatWhitespaceAsSuffixField => spec with { TreatWhitespaceAsSuffix = reader.ReadBool(field, wireType) },
                TrainerUnkSurfaceField => spec with { UnkSurface = reader.ReadBytes(field, wireType).ToArray() },
                _ => Skip(ref reader, wireType, spec),
            };
        }

        return spec;
    }

    private static NormalizerSpec ReadNormalizerSpec(ReadOnlySpan<byte> message, NormalizerSpec spec, string messageName)
    {
        var reader = new ProtobufReader(message, messageName);
        while (reader.TryReadTag(out int field, out var wireType))
        {
            spec = field switch
            {
                NormalizerNameField => spec with { Name = Encoding.UTF8.GetString(reader.ReadBytes(field, wireType)) },
                NormalizerCharsMapField => spec with { PrecompiledCharsMap = reader.ReadBytes(field, wireType).ToArray() },
                NormalizerAddDummyPrefixField => spec with { AddDummyPrefix = reader.ReadBool(field, wireType) },
                NormalizerRemoveExtraWhitespacesField => spec with { RemoveExtraWhitespaces = reader.ReadBool(field, wireType) },
                NormalizerEscapeWhitespacesField => spec with { EscapeWhitespaces = reader.ReadBool(field, wireType) },
                _ => Skip(ref reader, wireType, spec),
            };
        }

        return spec;
    }

    private static string ModelTypeName(int modelType) => modelType switch
    {
        TrainerSpec.UnigramModelType => "UNIGRAM",
        TrainerSpec.BpeModelType => "BPE",
        3 => "WORD",
        4 => "CHAR",
        _ => modelType.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private static T Skip<T>(ref ProtobufReader reader, ProtobufWireType wireType, T unchanged)
    {
        reader.SkipField(wireType);
        return unchanged;
    }

    private static void Validate(SentencePieceModel model, int expectedModelType)
    {
        if (model.Trainer.ModelType != expectedModelType)
        {
            string name = ModelTypeName(model.Trainer.ModelType);
            throw new ModelFileException(expectedModelType == TrainerSpec.UnigramModelType
                ? $"Unsupported SentencePiece model: model_type is {name}; only UNIGRAM models are supported."
                : $"Unsupported SentencePiece model: model_type is {name}; a decoder's tokenizer.model must be {ModelTypeName(expectedModelType)}.");
        }

        if (model.Trainer.TreatWhitespaceAsSuffix)
        {
            throw new ModelFileException("Unsupported SentencePiece model: treat_whitespace_as_suffix is set; DeBERTa-v3 and Llama models put the meta space before words.");
        }

        if (model.HasDenormalizerRules)
        {
            throw new ModelFileException("Unsupported SentencePiece model: it has denormalization rules (denormalizer_spec), which DeBERTa-v3 and Llama models do not use.");
        }

        var seen = new Dictionary<string, int>(model.Pieces.Count, StringComparer.Ordinal);
        int normalCount = 0;
        int unknownCount = 0;
        int byteCount = 0;
        for (int id = 0; id < model.Pieces.Count; id++)
        {
            var piece = model.Pieces[id];
            // Latin-1 maps bytes to chars one to one, so equal keys mean equal bytes.
            string key = Encoding.Latin1.GetString(piece.Utf8);
            if (!seen.TryAdd(key, id))
            {
                throw new ModelFileException(
                    $"Corrupt SentencePiece model: piece {id} repeats piece {seen[key]} ('{Encoding.UTF8.GetString(piece.Utf8)}').");
            }

            switch (piece.Type)
            {
                case SentencePieceType.Normal:
                    normalCount++;
                    break;
                case SentencePieceType.Unknown:
                    unknownCount++;
                    break;
                case SentencePieceType.Byte:
                    if (!ByteFallbackPieces.TryParse(piece.Utf8, out _))
                    {
                        throw new ModelFileException(
                            $"Corrupt SentencePiece model: byte piece {id} is '{Encoding.UTF8.GetString(piece.Utf8)}', not of the form <0xNN>.");
                    }

                    byteCount++;
                    break;
            }
        }

        if (normalCount == 0)
        {
            throw new ModelFileException("Corrupt SentencePiece model: it has no normal pieces to encode text with.");
        }

        if (unknownCount != 1)
        {
            throw new ModelFileException($"Corrupt SentencePiece model: it has {unknownCount} unknown pieces; exactly one is required.");
        }

        if (byteCount > 0 && !model.Trainer.ByteFallback)
        {
            throw new ModelFileException("Corrupt SentencePiece model: it has byte pieces but byte_fallback is off.");
        }

        foreach (var (field, id) in new[] { ("bos_id", model.Trainer.BosId), ("eos_id", model.Trainer.EosId) })
        {
            if (id >= model.Pieces.Count)
            {
                throw new ModelFileException($"Corrupt SentencePiece model: {field} {id} is past the {model.Pieces.Count} pieces.");
            }
        }

        if (model.Trainer.ByteFallback && byteCount != 256)
        {
            throw new ModelFileException($"Corrupt SentencePiece model: byte_fallback is on but it has {byteCount} of the 256 byte pieces <0x00>..<0xFF>.");
        }
    }
}
