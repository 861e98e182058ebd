# Posts an SMS reply to Klaxon the way Twilio does, signed with the auth token.
import base64, hashlib, hmac, sys, urllib.parse, urllib.request
token, public, klaxon, sender, body = sys.argv[1:6]
params = {'From': sender, 'To': '+12065550199', 'Body': body, 'MessageSid': 'SMreply1'}
data = public + '/hooks/twilio/sms' + ''.join(k + params[k] for k in sorted(params))
sig = base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()
req = urllib.request.Request(klaxon + '/hooks/twilio/sms', data=urllib.parse.urlencode(params).encode(),
                             headers={'X-Twilio-Signature': sig})
print(urllib.request.urlopen(req).read().decode())
