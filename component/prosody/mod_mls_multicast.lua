-- mod_mls_multicast: an XEP-0033 (Extended Stanza Addressing) multicast
-- service for trusted XEP-0114 components, written for xmpp-mls-bridge.
--
-- Why: a component that fans a room message out to N devices otherwise
-- sends N stanzas, each of which Prosody parses, routes and serializes. With
-- this service the component sends one stanza carrying N 'bcc' addresses;
-- Prosody parses it once and routes N copies, as its own MUC does.
--
-- Load it as an internal component and name the components allowed to use it:
--
--   Component "multicast.example.org" "mls_multicast"
--       multicast_trusted_components = { "mls.example.org" }
--
-- then give the bridge `component.multicast = "multicast.example.org"`.
--
-- Scope (deliberately narrow, XEP-0033 §5 and §9): only <message/> stanzas,
-- only from the listed components (their stanzas' 'from' is already checked
-- by mod_component to be on the component's domain), only 'to', 'cc' and
-- 'bcc' addresses with a 'jid'. Every address is marked delivered='true'
-- (§4.5); 'bcc' addresses are removed from the copies (§4.6.3), and the
-- <addresses/> element goes away when nothing is left in it.

local st = require "util.stanza";
local jid_split = require "util.jid".split;

local NS_ADDRESS = "http://jabber.org/protocol/address";

local trusted = module:get_option_set("multicast_trusted_components", {});
local max_addresses = module:get_option_number("multicast_max_addresses", 1000);

module:depends("disco");
module:add_identity("service", "multicast", "Multicast for trusted components");
module:add_feature(NS_ADDRESS);

local DELIVERY_TYPES = { to = true, cc = true, bcc = true };

-- The recipients of a multicast stanza, or nil and an error reply.
local function recipients_of(stanza, addresses)
	local targets, count = {}, 0;
	for address in addresses:childtags("address", NS_ADDRESS) do
		local a = address.attr;
		if DELIVERY_TYPES[a.type] and a.delivered ~= "true" then
			local node, host = jid_split(a.jid);
			if not host or a.uri then
				return nil, st.error_reply(stanza, "modify", "jid-malformed", "every to/cc/bcc address needs a valid 'jid' (no 'uri')");
			end
			count = count + 1;
			if count > max_addresses then
				return nil, st.error_reply(stanza, "modify", "policy-violation",
					("at most %d addresses per stanza"):format(max_addresses));
			end
			targets[count] = a.jid;
		end
	end
	if count == 0 then
		return nil, st.error_reply(stanza, "modify", "bad-request", "no address to deliver to");
	end
	return targets;
end

module:hook("message/host", function(event)
	local origin, stanza = event.origin, event.stanza;
	local addresses = stanza:get_child("addresses", NS_ADDRESS);
	if not addresses then return; end -- not a multicast stanza: unhandled, Prosody answers
	if stanza.attr.type == "error" then return true; end
	if origin.type ~= "component" or not trusted:contains(origin.host) then
		origin.send(st.error_reply(stanza, "auth", "forbidden", "this multicast service only serves trusted components"));
		return true;
	end

	local targets, err = recipients_of(stanza, addresses);
	if not targets then
		origin.send(err);
		return true;
	end

	-- What every copy carries: delivered='true' on all addresses, no 'bcc'.
	local kept = {};
	for address in addresses:childtags("address", NS_ADDRESS) do
		if address.attr.type ~= "bcc" then
			address.attr.delivered = "true";
			kept[#kept + 1] = address;
		end
	end
	stanza:remove_children("addresses", NS_ADDRESS);
	if #kept > 0 then
		local copy = st.stanza("addresses", { xmlns = NS_ADDRESS });
		for i = 1, #kept do copy:add_direct_child(kept[i]); end
		stanza:add_direct_child(copy);
	end

	-- One stanza, re-addressed for each recipient and sent at once, as mod_muc
	-- does for its occupants: sending serializes it (a queue that keeps
	-- stanzas, like mod_smacks, keeps a clone).
	for i = 1, #targets do
		stanza.attr.to = targets[i];
		module:send(stanza);
	end
	return true;
end);

module:log("info", "multicast for trusted components %s, at most %d addresses per stanza", tostring(trusted), max_addresses);
