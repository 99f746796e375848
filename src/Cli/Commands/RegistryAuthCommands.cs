using System.CommandLine;
using MiniDocker.Images;
using MiniDocker.Images.Registry;
using MiniDocker.Linux;

namespace MiniDocker.Cli.Commands;

/// <summary>`login`, `logout` and `push` (also `image push`). As in Docker, their failures exit with status 1.</summary>
public static class RegistryAuthCommands
{
    /// <summary>Docker's CLI exits 1 when login, logout or push fail (125 is the daemon-side status of run/create).</summary>
    public const int FailureExitCode = 1;

    public static IEnumerable<Command> Create() => [CreateLogin(), CreateLogout(), CreatePush("push")];

    public static Command CreatePush(string verb)
    {
        var quiet = new Option<bool>("--quiet", "-q") { Description = "Suppress verbose output" };
        var reference = new Argument<string>("NAME[:TAG]");
        var command = new Command(verb, "Upload an image to a registry") { quiet, reference };
        command.SetAction(p => AsCliFailure(() =>
        {
            var root = Globals.StateRoot(p);
            var output = p.GetValue(quiet) ? TextWriter.Null : Console.Out;
            var digest = new Pusher(new ImageStore(root), RegistryConfig.Load(root), output).Push(p.GetValue(reference)!);
            if (p.GetValue(quiet))
                Console.WriteLine(digest);
        }));
        return command;
    }

    private static Command CreateLogin()
    {
        var username = new Option<string?>("--username", "-u") { Description = "Username" };
        var password = new Option<string?>("--password", "-p") { Description = "Password (visible to other users in ps: prefer --password-stdin)" };
        var passwordStdin = new Option<bool>("--password-stdin") { Description = "Take the password from stdin" };
        var server = new Argument<string?>("SERVER") { Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("login", "Log in to a registry (credentials stored as Docker stores them, in $DOCKER_CONFIG/config.json or ~/.docker/config.json)")
        {
            username, password, passwordStdin, server,
        };
        command.SetAction(p => AsCliFailure(() =>
        {
            var root = Globals.StateRoot(p);
            var domain = Domain(p.GetValue(server));
            var config = RegistryConfig.Load(root);
            if (!config.IsAllowed(domain))
                throw new ImageException($"login to {domain}: registry {domain} is not in allowed-registries (daemon.json)");
            var store = CredentialStore.Default();
            var user = p.GetValue(username);
            var secret = p.GetValue(password);
            if (secret is not null && p.GetValue(passwordStdin))
                throw new ImageException("--password and --password-stdin are mutually exclusive");
            if (p.GetValue(passwordStdin))
            {
                if (string.IsNullOrEmpty(user))
                    throw new ImageException("Must provide --username with --password-stdin");
                secret = Console.In.ReadToEnd().TrimEnd('\n', '\r');
            }
            else if (secret is not null)
            {
                Console.Error.WriteLine("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
            }
            RegistryCredentials credentials;
            if (user is null && secret is null && store.Find(domain) is { } stored)
            {
                credentials = stored; // Docker checks what is stored before asking
            }
            else
            {
                if (string.IsNullOrEmpty(user) || string.IsNullOrEmpty(secret))
                {
                    if (Console.IsInputRedirected)
                        throw new ImageException("Cannot perform an interactive login from a non TTY device");
                    if (string.IsNullOrEmpty(user))
                    {
                        Console.Write("Username: ");
                        user = Console.ReadLine()?.Trim();
                    }
                    if (string.IsNullOrEmpty(secret))
                        secret = ReadHidden("Password: ");
                }
                if (string.IsNullOrEmpty(user))
                    throw new ImageException("Username is required");
                if (string.IsNullOrEmpty(secret))
                    throw new ImageException("Password is required");
                if (user.Contains(':'))
                    throw new ImageException("a user name cannot contain ':' (it separates user and password in the stored credentials)");
                credentials = new RegistryCredentials(user, secret);
            }
            var reference = new DistributionReference(domain, "library/login", null, null);
            using (var client = new RegistryClient(config, reference) { Credentials = credentials })
                client.CheckLogin().GetAwaiter().GetResult();
            // Stored only once the registry accepted them: a wrong password changes nothing on disk.
            store.Store(domain, credentials);
            Console.Error.WriteLine($"WARNING! Your password will be stored unencrypted in {store.FilePath}.");
            Console.WriteLine("Login Succeeded");
        }));
        return command;
    }

    private static Command CreateLogout()
    {
        var server = new Argument<string?>("SERVER") { Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("logout", "Log out from a registry (removes its stored credentials)") { server };
        command.SetAction(p => AsCliFailure(() =>
        {
            Globals.StateRoot(p);
            var domain = Domain(p.GetValue(server));
            var shown = CredentialStore.KeyOf(domain);
            if (CredentialStore.Default().Remove(domain))
                Console.WriteLine($"Removing login credentials for {shown}");
            else
                Console.WriteLine($"Not logged in to {shown}");
        }));
        return command;
    }

    /// <summary>SERVER as given (<c>host:port</c>, <c>https://host/...</c>) reduced to the registry's host[:port].</summary>
    private static string Domain(string? server)
    {
        if (string.IsNullOrEmpty(server))
            return DistributionReference.DockerHub;
        var host = CredentialStore.HostOf(server);
        if (host == DistributionReference.DockerHub)
            return DistributionReference.DockerHub;
        if (!DistributionReference.TryParse(host + "/x", out var parsed, out _) || parsed.Domain != host)
            throw new ImageException($"'{server.ReplaceLineEndings(" ")}' is not a registry host[:port]");
        return host;
    }

    private static string ReadHidden(string prompt)
    {
        Console.Write(prompt);
        var text = new System.Text.StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
                break;
            if (key.Key == ConsoleKey.Backspace)
            {
                if (text.Length > 0) text.Length--;
                continue;
            }
            text.Append(key.KeyChar);
        }
        Console.WriteLine();
        return text.ToString();
    }

    /// <summary>Runs <paramref name="action"/>; an error of the image side becomes one line with Docker CLI's status 1.</summary>
    internal static int AsCliFailure(Action action)
    {
        try
        {
            action();
            return 0;
        }
        catch (ImageException e)
        {
            throw new MiniDockerException(e.Message, FailureExitCode, e);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or TimeoutException or UnauthorizedAccessException)
        {
            throw new MiniDockerException(e is HttpRequestException { InnerException: { } inner } ? $"{e.Message} ({inner.Message})" : e.Message,
                FailureExitCode, e);
        }
    }
}
