using System.Text.RegularExpressions;

namespace MiniDocker.Images;

/// <summary>A repository name and tag, as in <c>busybox:latest</c>.</summary>
public sealed partial record ImageReference(string Repository, string Tag)
{
    public const string DefaultTag = "latest";

    public override string ToString() => $"{Repository}:{Tag}";

    /// <summary>Parses NAME[:TAG] (NAME lower-case path components as in Docker; TAG defaults to latest).</summary>
    public static ImageReference Parse(string reference)
    {
        if (!TryParse(reference, out var parsed, out var problem))
            throw InvalidFormat(reference, problem);
        return parsed;
    }

    /// <summary>Docker's wording ("invalid reference format"), with what is wrong.</summary>
    public static ImageException InvalidFormat(string reference, string problem) =>
        new($"invalid reference format: \"{Display.Name(reference)}\": {problem}");

    public static bool TryParse(string reference, out ImageReference parsed, out string problem)
    {
        parsed = new ImageReference("", "");
        if (reference.Contains('@'))
        {
            problem = "a digest (@sha256:...) names a manifest, not a local NAME[:TAG]";
            return false;
        }
        // Docker's grammar (a registry host[:port] may come first); the store keys images by the familiar name.
        if (!Registry.DistributionReference.TryParse(reference, out var distribution, out problem))
            return false;
        var repository = distribution.FamiliarRepository;
        var tag = distribution.TagOrLatest;
        if (FullIdPattern().IsMatch(repository))
        {
            // Docker forbids this too: such a name would shadow the image ID it looks like.
            problem = "a 64-character hex name is reserved for image IDs";
            return false;
        }
        if (repository == "sha256")
        {
            // "sha256:..." is how an image ID is written; Docker refuses the algorithm's name as a repository too.
            problem = "'sha256:' begins an image ID (sha256:<hex digits>), it cannot name a repository";
            return false;
        }
        parsed = new ImageReference(repository, tag);
        problem = "";
        return true;
    }

    [GeneratedRegex("^[a-f0-9]{64}$")]
    private static partial Regex FullIdPattern();
}
