using System.CommandLine;
using MiniDocker.Images;
using MiniDocker.Images.Registry;

namespace MiniDocker.Cli.Commands;

/// <summary>`run --pull always|missing|never`, with Docker's meanings and messages.</summary>
public static class PullPolicy
{
    public const string Always = "always", Missing = "missing", Never = "never";

    public static readonly Option<string?> Option = new("--pull")
    {
        Description = "Pull image before running (\"always\", \"missing\", \"never\"; default \"missing\")",
    };

    /// <summary>The policy given, checked (before anything is done): missing when none.</summary>
    public static string Of(ParseResult p)
    {
        var policy = p.GetValue(Option) ?? Missing;
        return policy is Always or Missing or Never ? policy
            : throw new ImageException($"invalid pull option: '{policy.ReplaceLineEndings(" ")}': must be one of \"always\", \"missing\" or \"never\"");
    }

    /// <summary>The image to run: pulled first with always; pulled if missing with missing; only local with never.</summary>
    public static ImageRecord Resolve(ParseResult p, string reference, string policy)
    {
        switch (policy)
        {
            case Never:
                return new ImageStore(Globals.StateRoot(p)).TryResolve(reference)
                       ?? throw new ImageException($"No such image: {(DistributionReference.TryParse(reference, out var parsed, out _) ? parsed.Familiar : reference)}");
            case Always:
                // An ID is not something a registry has: it runs as is, as Docker does with an ID and --pull always.
                if (new ImageStore(Globals.StateRoot(p)).TryResolve(reference) is { } local && local.Id.StartsWith(reference.Replace("sha256:", ""), StringComparison.Ordinal))
                    return local;
                var root = Globals.StateRoot(p);
                var target = DistributionReference.Parse(reference);
                if (!RegistryConfig.Load(root).IsAllowed(target.Domain))
                    throw new ImageException($"--pull always: registry {target.Domain} is not in allowed-registries (daemon.json)");
                PullCommands.Pull(p, reference, Console.Error);
                return new ImageStore(root).Resolve(reference);
            default:
                return PullCommands.ResolveOrPull(p, reference);
        }
    }
}
