# Counts 502s at the edge when a service answers before reading a request body (a 100 KB+ body
# sent to a path whose id does not parse). Run against a stack: set -a; . .stack/env; set +a;
# python3 bench/early_answers.py 100000
import http.client, json, os, sys
key=os.environ['LANGSMITH_API_KEY']
bad=0
body=json.dumps({"x":"y"*int(sys.argv[1])})
for i in range(400):
    c=http.client.HTTPConnection(os.environ.get("EDGE_HOST","127.0.0.1"),int(os.environ.get("EDGE_PORT","8080")))
    # early rejection: bad path uuid, with a body
    c.request('PATCH','/api/v1/sessions/not-a-uuid',body=body,headers={'x-api-key':key,'content-type':'application/json'})
    r=c.getresponse(); r.read()
    if r.status==502: bad+=1
    c.request('PATCH','/api/v1/sessions/e3e70682-c209-1cac-a29f-6fbed82c07cd',body='[null,null]',headers={'x-api-key':key,'content-type':'application/json'})
    r=c.getresponse(); r.read()
    if r.status==502: bad+=1
    c.close()
print("502s:",bad)
