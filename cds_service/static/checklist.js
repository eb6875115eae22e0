/* The checklist's one script: the Print buttons and the "only what is missing" filter.
   A static file (CSP script-src 'self'); the page works without it (the filter is a form). */
(function(){
  var prints=document.querySelectorAll('[data-print]');
  for(var i=0;i<prints.length;i++){prints[i].addEventListener('click', function(){window.print();});}
  var box=document.getElementById('missing-only'), main=document.getElementById('main'),
      said=document.getElementById('filter-status');
  if(!box||!main){return;}
  function apply(){
    main.classList.toggle('missing-only', box.checked);
    said.textContent = box.checked ? 'Showing only what is still missing.' : 'Showing every criterion.';
    try{var u=new URL(window.location.href);
      if(box.checked){u.searchParams.set('missing','1');}else{u.searchParams.delete('missing');}
      window.history.replaceState(null,'',u.toString());}catch(e){}
  }
  box.addEventListener('change', apply);
  var apply_btn=document.getElementById('apply-filter'); if(apply_btn){apply_btn.hidden=true;}
})();
