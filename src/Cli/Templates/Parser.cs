using System.Globalization;

namespace MiniDocker.Cli.Templates;

/// <summary>
/// Recursive descent over the tokens, following Go's text/template/parse (same grammar, same messages:
/// "template: :1: unexpected "}" in operand", "function "foo" not defined", "undefined variable "$x"").
/// </summary>
internal sealed class Parser
{
    private readonly List<Token> _tokens;
    private readonly ISet<string> _functions;
    private int _next;
    private readonly List<string> _vars = ["$"];
    private int _rangeDepth;

    private Parser(string text, ISet<string> functions)
    {
        _tokens = Lexer.Tokenize(text);
        _functions = functions;
    }

    public static ListNode Parse(string text, ISet<string> functions) => new Parser(text, functions).Root();

    private Token Next() => _tokens[Math.Min(_next++, _tokens.Count - 1)];
    private Token Peek() => _tokens[Math.Min(_next, _tokens.Count - 1)];
    private void Backup() => _next--;

    private Token NextNonSpace()
    {
        Token t;
        do t = Next(); while (t.Kind == TokenKind.Space);
        return t;
    }

    private Token PeekNonSpace()
    {
        var t = NextNonSpace();
        Backup();
        return t;
    }

    private TemplateException Error(string message) => Error(message, Peek().Line);

    private static TemplateException Error(string message, int line) => new($"template: :{line}: {message}");

    private TemplateException Unexpected(Token token, string context) =>
        token.Kind == TokenKind.Error ? Error(token.Value, token.Line) : Error($"unexpected {token} in {context}", token.Line);

    private Token Expect(TokenKind kind, string context)
    {
        var token = NextNonSpace();
        if (token.Kind != kind) throw Unexpected(token, context);
        return token;
    }

    private ListNode Root()
    {
        var root = new ListNode(0);
        while (Peek().Kind != TokenKind.EOF)
        {
            var n = TextOrAction();
            if (n is EndNode or ElseNode) throw Error($"unexpected {n}");
            root.Nodes.Add(n);
        }
        return root;
    }

    private Node TextOrAction()
    {
        var token = NextNonSpace();
        return token.Kind switch
        {
            TokenKind.Text => new TextNode(token.Pos, token.Value),
            TokenKind.LeftDelim => Action(),
            _ => throw Unexpected(token, "input"),
        };
    }

    private Node Action()
    {
        var token = NextNonSpace();
        switch (token.Kind)
        {
            case TokenKind.Define or TokenKind.Template or TokenKind.Block:
                throw Error($"{{{{{token.Value}}}}} is not supported", token.Line);
            case TokenKind.Break or TokenKind.Continue:
                Expect(TokenKind.RightDelim, $"{{{{{token.Value}}}}}");
                if (_rangeDepth == 0) throw Error($"{{{{{token.Value}}}}} outside {{{{range}}}}", token.Line);
                return token.Kind == TokenKind.Break ? new BreakNode(token.Pos) : new ContinueNode(token.Pos);
            case TokenKind.Else:
                // "{{else if ...}}" and "{{else with ...}}" are "{{else}}{{if ...}}": leave the keyword for the caller.
                if (PeekNonSpace().Kind is TokenKind.If or TokenKind.With) return new ElseNode(token.Pos);
                Expect(TokenKind.RightDelim, "else");
                return new ElseNode(token.Pos);
            case TokenKind.End:
                Expect(TokenKind.RightDelim, "end");
                return new EndNode(token.Pos);
            case TokenKind.If: return Control(BranchKind.If);
            case TokenKind.Range: return Control(BranchKind.Range);
            case TokenKind.With: return Control(BranchKind.With);
        }
        Backup();
        var first = PeekNonSpace();
        return new ActionNode(first.Pos, Pipeline("command", TokenKind.RightDelim));
    }

    private (ListNode List, Node Next) ItemList()
    {
        var list = new ListNode(PeekNonSpace().Pos);
        while (PeekNonSpace().Kind != TokenKind.EOF)
        {
            var n = TextOrAction();
            if (n is EndNode or ElseNode) return (list, n);
            list.Nodes.Add(n);
        }
        throw Error("unexpected EOF");
    }

    private BranchNode Control(BranchKind kind)
    {
        string context = kind.ToString().ToLowerInvariant();
        int varsBefore = _vars.Count;
        var pipe = Pipeline(context, TokenKind.RightDelim);
        if (kind == BranchKind.Range) _rangeDepth++;
        var (list, next) = ItemList();
        if (kind == BranchKind.Range) _rangeDepth--;
        ListNode? elseList = null;
        if (next is ElseNode)
        {
            var peek = PeekNonSpace();
            if ((kind == BranchKind.If && peek.Kind == TokenKind.If) || (kind == BranchKind.With && peek.Kind == TokenKind.With))
            {
                NextNonSpace();
                elseList = new ListNode(next.Pos);
                elseList.Nodes.Add(Control(kind));
            }
            else
            {
                (elseList, next) = ItemList();
                if (next is not EndNode) throw Error($"expected end; found {next}");
            }
        }
        _vars.RemoveRange(varsBefore, _vars.Count - varsBefore);
        return new BranchNode(pipe.Pos, kind, pipe, list, elseList);
    }

    private PipeNode Pipeline(string context, TokenKind end)
    {
        var pipe = new PipeNode(PeekNonSpace().Pos);
        // Declarations: "$x :=", "$x =", and in range "$i, $v :=".
        while (PeekNonSpace().Kind == TokenKind.Variable)
        {
            int start = _next;
            var v = NextNonSpace();
            var next = PeekNonSpace();
            if (next.Kind is TokenKind.Declare or TokenKind.Assign)
            {
                pipe.IsAssign = next.Kind == TokenKind.Assign;
                NextNonSpace();
                pipe.Decl.Add(new VariableNode(v.Pos, [v.Value]));
                _vars.Add(v.Value);
                break;
            }
            if (next.Kind == TokenKind.Char && next.Value == ",")
            {
                NextNonSpace();
                pipe.Decl.Add(new VariableNode(v.Pos, [v.Value]));
                _vars.Add(v.Value);
                if (context == "range" && pipe.Decl.Count < 2)
                {
                    if (PeekNonSpace().Kind is TokenKind.Variable or TokenKind.RightDelim or TokenKind.RightParen) continue;
                    throw Error("range can only initialize variables");
                }
                throw Error($"too many declarations in {context}");
            }
            _next = start; // not a declaration: the variable is the first operand
            break;
        }
        while (true)
        {
            var token = NextNonSpace();
            if (token.Kind == end)
            {
                if (pipe.Cmds.Count == 0) throw Error($"missing value for {context}", token.Line);
                for (int i = 1; i < pipe.Cmds.Count; i++)
                    if (pipe.Cmds[i].Args[0] is BoolNode or DotNode or NilNode or NumberNode or StringNode)
                        throw Error($"non executable command in pipeline stage {i + 1}", token.Line);
                return pipe;
            }
            switch (token.Kind)
            {
                case TokenKind.Bool or TokenKind.CharConstant or TokenKind.Dot or TokenKind.Field or TokenKind.Identifier
                    or TokenKind.Number or TokenKind.Nil or TokenKind.RawString or TokenKind.String or TokenKind.Variable
                    or TokenKind.LeftParen:
                    Backup();
                    pipe.Cmds.Add(Command());
                    break;
                default:
                    throw Unexpected(token, context);
            }
        }
    }

    private CommandNode Command()
    {
        var cmd = new CommandNode(PeekNonSpace().Pos);
        while (true)
        {
            PeekNonSpace();
            if (Operand() is { } operand) cmd.Args.Add(operand);
            var token = Next();
            if (token.Kind == TokenKind.Space) continue;
            if (token.Kind is TokenKind.RightDelim or TokenKind.RightParen) Backup();
            else if (token.Kind != TokenKind.Pipe) throw Unexpected(token, "operand");
            break;
        }
        if (cmd.Args.Count == 0) throw Error("empty command");
        return cmd;
    }

    private Node? Operand()
    {
        var node = Term();
        if (node is null || Peek().Kind != TokenKind.Field) return node;
        // Go gives a field chain the position of its second field: errors say ":1:8" for {{.State.Nope}}, as Docker.
        int chainPos = Peek().Pos;
        var fields = new List<string>();
        while (Peek().Kind == TokenKind.Field) fields.Add(Next().Value[1..]);
        switch (node)
        {
            case FieldNode f: return new FieldNode(chainPos, [.. f.Ident, .. fields]);
            case VariableNode v: return new VariableNode(chainPos, [.. v.Ident, .. fields]);
            case BoolNode or StringNode or NumberNode or NilNode or DotNode:
                throw Error($"unexpected . after term {GoText.Quote(node.ToString())}");
            default:
                var chain = new ChainNode(chainPos, node);
                chain.Field.AddRange(fields);
                return chain;
        }
    }

    private Node? Term()
    {
        var token = NextNonSpace();
        switch (token.Kind)
        {
            case TokenKind.Identifier:
                if (!_functions.Contains(token.Value)) throw Error($"function {GoText.Quote(token.Value)} not defined", token.Line);
                return new IdentifierNode(token.Pos, token.Value);
            case TokenKind.Dot: return new DotNode(token.Pos);
            case TokenKind.Nil: return new NilNode(token.Pos);
            case TokenKind.Variable:
                if (!_vars.Contains(token.Value)) throw Error($"undefined variable {GoText.Quote(token.Value)}", token.Line);
                return new VariableNode(token.Pos, [token.Value]);
            case TokenKind.Field: return new FieldNode(token.Pos, [token.Value[1..]]);
            case TokenKind.Bool: return new BoolNode(token.Pos, token.Value == "true");
            case TokenKind.Number or TokenKind.CharConstant: return Number(token);
            case TokenKind.LeftParen: return Pipeline("parenthesized pipeline", TokenKind.RightParen);
            case TokenKind.String or TokenKind.RawString:
                string text;
                try { text = token.Kind == TokenKind.RawString ? token.Value[1..^1].Replace("\r", "") : GoText.Unquote(token.Value); }
                catch (Exception e) when (e is FormatException or ArgumentException) { throw Error("invalid syntax", token.Line); }
                return new StringNode(token.Pos, token.Value, text);
        }
        Backup();
        return null;
    }

    /// <summary>Go's number literals: 'c', 42, -7, 0x1F, 0o17, 017, 0b101, 1_000, 1.5, 1e3. A literal with a
    /// fraction or exponent is a float (Go's idealConstant), the rest integers.</summary>
    private NumberNode Number(Token token)
    {
        string text = token.Value;
        if (token.Kind == TokenKind.CharConstant)
        {
            string c;
            try { c = GoText.Unquote(text); }
            catch (Exception e) when (e is FormatException or ArgumentException) { throw Error($"malformed character constant: {text}", token.Line); }
            if (c.EnumerateRunes().Count() != 1) throw Error($"malformed character constant: {text}", token.Line);
            return new NumberNode(token.Pos, text, (long)char.ConvertToUtf32(c, 0));
        }
        string digits = text.Replace("_", "");
        bool negative = digits.StartsWith('-');
        string unsigned = digits.TrimStart('+', '-');
        string lower = unsigned.ToLowerInvariant();
        (int radix, string body) = lower switch
        {
            _ when lower.StartsWith("0x") => (16, lower[2..]),
            _ when lower.StartsWith("0o") => (8, lower[2..]),
            _ when lower.StartsWith("0b") => (2, lower[2..]),
            _ when lower.Length > 1 && lower[0] == '0' && lower.All(char.IsAsciiDigit) => (8, lower[1..]),
            _ => (10, lower),
        };
        if (body.Length > 0 && body.All(ch => char.IsAsciiHexDigit(ch) && Convert.ToInt32(ch.ToString(), 16) < radix))
        {
            try
            {
                long value = Convert.ToInt64(body, radix == 10 ? 10 : radix);
                return new NumberNode(token.Pos, text, negative ? -value : value);
            }
            catch (OverflowException) { }
        }
        if (radix == 10 && double.TryParse(digits, NumberStyles.Float, CultureInfo.InvariantCulture, out double d))
        {
            bool isFloat = unsigned.IndexOfAny(['.', 'e', 'E']) >= 0;
            if (!isFloat && d == Math.Floor(d) && Math.Abs(d) < 9.2e18) return new NumberNode(token.Pos, text, (long)d);
            return new NumberNode(token.Pos, text, d);
        }
        throw Error($"illegal number syntax: {GoText.Quote(text)}", token.Line);
    }
}
